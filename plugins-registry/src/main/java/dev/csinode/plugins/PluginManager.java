package dev.csinode.plugins;

import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.csi.CsiPluginHandler;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.plugins.registration.PluginInfoValidation;
import dev.csinode.plugins.registration.PluginRegistration;
import dev.csinode.plugins.registration.RegistrationException;
import dev.csinode.plugins.watcher.PluginSocket;
import dev.csinode.plugins.watcher.PluginWatcher;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's plugin manager: registration sockets seen by the {@link PluginWatcher} are registered through
 * {@link PluginRegistration} into the {@link DriverRegistry}, and deregistered when their socket goes or is
 * replaced. A driver name is held by one socket: another socket announcing it is refused as a conflict unless
 * its version is strictly higher (the kubelet's rule), and is registered when the holder goes. What it adds to
 * the kubelet: failed registrations are retried with capped exponential backoff for as long as the socket
 * exists; sockets nobody serves are reported as stale (and never deleted); a socket refused as a conflict takes
 * the name over when the holder's socket goes (the kubelet leaves the name unregistered then), though a socket
 * re-created at the holder's path stays first in line through its failed attempts (a restarting registrar); every
 * registered driver is probed and marked unhealthy after two failed probes, then probed every second until it answers.
 * Each socket's attempt runs on its own, so one hanging plugin delays nobody else.
 *
 * <p>All state lives on one Vert.x context; {@link #status()} returns an immutable snapshot.
 */
public final class PluginManager {
  private static final Logger LOG = LoggerFactory.getLogger(PluginManager.class);

  /** Timing knobs; the defaults are the and the kubelet's. */
  public record Options(Duration getInfoTimeout, Duration notifyTimeout, Duration csiTimeout, Duration backoffInitial,
                        Duration backoffMax, Duration probeInterval, int probeFailuresUnhealthy, Duration rescanInterval) {
    public static Options defaults() {
      return new Options(Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofMinutes(2), Duration.ofMillis(500),
          Duration.ofSeconds(30), Duration.ofSeconds(10), 2, Duration.ofSeconds(5));
    }

    public Options withProbeInterval(Duration d) {
      return new Options(getInfoTimeout, notifyTimeout, csiTimeout, backoffInitial, backoffMax, d, probeFailuresUnhealthy, rescanInterval);
    }

    public Options withBackoff(Duration initial, Duration max) {
      return new Options(getInfoTimeout, notifyTimeout, csiTimeout, initial, max, probeInterval, probeFailuresUnhealthy, rescanInterval);
    }
  }

  private static final class Entry {
    final PluginSocket socket;
    PluginState state = new PluginState.Registering();
    Duration nextBackoff;
    long retryTimer = -1;
    int probeFailures;
    boolean probing;
    long nextProbeAtMillis;
    GrpcUnixClient probeClient;
    /**
     * The driver name the previous instance at this path held: this instance is first in line for it. Sockets
     * waiting for the name get their turn only when this one registers, announces another name, is refused because
     * another socket took the name (a strictly higher version), or goes. Failed attempts keep it first: a restarting
     * registrar's socket often exists before anything answers on it, and its retries must not be overtaken by
     * another socket announcing its name. A socket left behind that never answers keeps it too, as the holder's
     * socket would: removing that socket lets the waiting ones register.
     */
    String heirOf;
    /** The name this entry's current attempt announced (GetInfo), once known. */
    String announced;

    Entry(PluginSocket socket, Duration initialBackoff) {
      this.socket = socket;
      this.nextBackoff = initialBackoff;
    }
  }

  private final Vertx vertx;
  private final Path rootDir;
  private final DriverRegistry registry;
  /** Replaced whole by a reload (a new probe interval); read on the event loop and the watcher thread. */
  private volatile Options options;
  private final PluginRegistration registration;
  private final Gauge totalPlugins;
  private final Gauge driverHealthy;
  private final Map<Path, Entry> entries = new HashMap<>();
  /** The entry holding each driver name: the one whose registration is in the {@link DriverRegistry}. */
  private final Map<String, Entry> holders = new HashMap<>();
  private boolean stopped;
  private Context context;
  private PluginWatcher watcher;
  private long probeTimer = -1;
  private long rescanTimer = -1;
  private volatile List<PluginStatus> status = List.of();

  /** A new probe interval (a reload): each driver's next probe is scheduled by it after its current one. */
  public void probeInterval(Duration interval) {
    if (interval.isNegative() || interval.isZero()) {
      throw new IllegalArgumentException("the probe interval must be positive, not " + interval);
    }
    options = options.withProbeInterval(interval);
  }

  public PluginManager(Vertx vertx, Path rootDir, DriverRegistry registry, PrometheusRegistry metrics, Options options) {
    this.vertx = vertx;
    this.rootDir = rootDir.toAbsolutePath().normalize();
    this.registry = registry;
    this.options = options;
    this.registration = new PluginRegistration(vertx, new CsiPluginHandler(vertx, options.csiTimeout()),
        options.getInfoTimeout(), options.notifyTimeout(), this.rootDir);
    this.totalPlugins = Gauge.builder().name("plugin_manager_total_plugins")
        .help("Number of plugins in the plugin manager, by socket and state (desired_state_of_world, actual_state_of_world)")
        .labelNames("socket_path", "state").register(metrics);
    this.driverHealthy = Gauge.builder().name("csi_node_agent_driver_healthy")
        .help("1 while the registered CSI driver answers Probe, 0 after consecutive failed probes")
        .labelNames("driver_name").register(metrics);
  }

  public Path registryDir() {
    return rootDir.resolve("plugins_registry");
  }

  public DriverRegistry registry() {
    return registry;
  }

  /** Creates and scans the registry directory, then watches it. */
  public Future<Void> start() {
    context = vertx.getOrCreateContext();
    return vertx.executeBlocking(() -> {
      watcher = new PluginWatcher(registryDir(), context, this::added, this::removed);
      watcher.start();
      return null;
    }, false).onSuccess(v -> context.runOnContext(x -> {
      probeTimer = vertx.setPeriodic(probeTick().toMillis(), t -> probeAll());
      rescanTimer = vertx.setPeriodic(options.rescanInterval().toMillis(), t -> vertx.executeBlocking(() -> {
        watcher.rescan();
        return null;
      }, false));
    })).mapEmpty();
  }

  /** Rescans the registry directory now; completes once every change it found has been handled. */
  public Future<Void> rescanNow() {
    return vertx.executeBlocking(() -> {
      watcher.rescan();
      return null;
    }, false).compose(v -> {
      Promise<Void> handled = Promise.promise();
      context.runOnContext(x -> handled.complete()); // queued after the events the rescan posted
      return handled.future();
    });
  }

  public List<PluginStatus> status() {
    return status;
  }

  private void added(PluginSocket socket) {
    Entry old = entries.remove(socket.path());
    if (old != null) {
      LOG.info("registration socket {} was re-created: deregistering the old instance first", socket.path());
      release(old);
    }
    Entry e = new Entry(socket, options.backoffInitial());
    entries.put(socket.path(), e);
    totalPlugins.labelValues(socket.path().toString(), "desired_state_of_world").set(1);
    attempt(e);
  }

  private void removed(Path path) {
    Entry e = entries.remove(path);
    if (e != null) {
      release(e);
      totalPlugins.remove(path.toString(), "desired_state_of_world");
      publishStatus();
    }
  }

  /**
   * Forgets an entry: cancels its retry, deregisters its driver if it holds the name (and only then: a socket
   * refused for a name never removes the holder's registration). No call to the plugin, as in the kubelet.
   */
  private void release(Entry e) {
    if (e.retryTimer >= 0) {
      vertx.cancelTimer(e.retryTimer);
      e.retryTimer = -1;
    }
    closeProbe(e);
    if (e.state instanceof PluginState.Registered r && holders.remove(r.driver().name(), e)) {
      String name = r.driver().name();
      if (registry.remove(name, e.socket.path())) {
        LOG.info("driver {} deregistered: its registration socket {} is gone", name, e.socket.path());
      }
      driverHealthy.remove(name);
      totalPlugins.remove(e.socket.path().toString(), "actual_state_of_world");
      freed(name, e.socket.path());
    }
    if (e.heirOf != null) {
      freed(e.heirOf, e.socket.path());
    }
  }

  private void closeProbe(Entry e) {
    if (e.probeClient != null) {
      e.probeClient.close();
      e.probeClient = null;
    }
  }

  /**
   * The name is free: looked at after the events already queued, so that a socket re-created at the same path
   * (a delete and a create seen together, or a rename over it) is known by then and registers first.
   */
  private void freed(String name, Path path) {
    if (!stopped) {
      context.runOnContext(v -> nameFreed(name, path));
    }
  }

  private void nameFreed(String name, Path path) {
    if (stopped || holders.containsKey(name)) {
      return;
    }
    Entry again = entries.get(path);
    if (again != null && again.state instanceof PluginState.Registering && again.heirOf == null) {
      again.heirOf = name;
      return;
    }
    offerName(name);
  }

  /** Sockets refused for this name (or replaced by a higher version) try again, in path order; the first to register holds it. */
  private void offerName(String name) {
    if (holders.containsKey(name) || entries.values().stream().anyMatch(e -> name.equals(e.heirOf))) {
      return;
    }
    for (Entry w : entries.values().stream().sorted(Comparator.comparing(e -> e.socket.path())).toList()) {
      if (w.state instanceof PluginState.Conflict c && c.driverName().equals(name)) {
        LOG.info("driver {} is not registered any more: registering it from {}, which announced it too", name, w.socket.path());
        attempt(w);
      }
    }
  }

  private boolean current(Entry e) {
    return entries.get(e.socket.path()) == e;
  }

  /**
   * Refuses a registration of a name another socket holds, unless its version is strictly higher (the kubelet's
   * ValidatePlugin rule): checked after GetInfo, before any CSI call, and again when installing, since two
   * registrations of one name may be in flight together.
   */
  private void admit(Entry e, String name, String version) {
    e.announced = name;
    if (!current(e)) {
      throw new RegistrationException("registration socket " + e.socket.path() + " was replaced during registration", false);
    }
    Entry holder = holders.get(name);
    if (holder == null || holder == e) {
      return;
    }
    String held = ((PluginState.Registered) holder.state).driver().highestSupportedVersion();
    if (PluginInfoValidation.compareVersions(version, held) <= 0) {
      throw RegistrationException.conflict(name, "driver " + name + " is already registered from " + holder.socket.path()
          + " (CSI " + held + "); " + e.socket.path() + " announces the same name with CSI " + version
          + ", and only a strictly higher version replaces a registered driver. " + e.socket.path()
          + " is registered if " + holder.socket.path() + " goes; if it is not the same driver, remove it");
    }
  }

  private void attempt(Entry e) {
    e.retryTimer = -1;
    e.announced = null;
    e.state = new PluginState.Registering();
    publishStatus();
    registration.register(e.socket.path(), (name, version) -> admit(e, name, version), driver -> {
      admit(e, driver.name(), driver.highestSupportedVersion());
      installed(e, driver);
    }).onComplete(ar -> {
      if (!current(e)) {
        return;
      }
      String heirOf = null; // the name this socket was first in line for and leaves to the waiting ones now
      if (e.heirOf != null && !staysFirstInLine(e, ar.succeeded() ? null : ar.cause())) {
        heirOf = e.heirOf;
        e.heirOf = null;
      }
      if (ar.succeeded()) {
        RegisteredDriver d = ar.result();
        LOG.info("driver {} registered from {}: endpoint {}, node id {}, CSI {}", d.name(), e.socket.path(),
            d.endpoint(), d.nodeId(), d.highestSupportedVersion());
      } else if (ar.cause() instanceof RegistrationException re && re.conflict()) {
        e.state = new PluginState.Conflict(re.conflictingDriver(), re.getMessage());
        LOG.warn("registration of {} refused: {}", e.socket.path(), re.getMessage());
        // The holder may have gone while the plugin was told: then the name is free for it now.
        offerName(re.conflictingDriver());
      } else {
        Duration delay = e.nextBackoff;
        e.nextBackoff = min(delay.multipliedBy(2), options.backoffMax());
        long retryAt = System.currentTimeMillis() + delay.toMillis();
        String reason = ar.cause().getMessage();
        boolean stale = ar.cause() instanceof RegistrationException re && re.stale();
        e.state = stale ? new PluginState.Stale(reason, retryAt) : new PluginState.Failed(reason, retryAt);
        LOG.warn("registration of {} {}: {} (retry in {} ms)", e.socket.path(), stale ? "is stale" : "failed", reason, delay.toMillis());
        e.retryTimer = vertx.setTimer(delay.toMillis(), t -> {
          if (current(e)) {
            attempt(e);
          }
        });
      }
      if (heirOf != null) {
        offerName(heirOf); // nothing if this socket took the name again
      }
      publishStatus();
    });
  }

  /**
   * Whether a re-created socket stays first in line for its predecessor's name after an attempt: yes after a failure
   * that is retried, unless the socket announced another name (the path now serves another driver).
   */
  private static boolean staysFirstInLine(Entry e, Throwable failure) {
    boolean retried = failure != null && !(failure instanceof RegistrationException re && re.conflict());
    return retried && (e.announced == null || e.announced.equals(e.heirOf));
  }

  /** Everything that makes a registration visible, done before the plugin hears it is registered. */
  private void installed(Entry e, RegisteredDriver d) {
    Entry previous = holders.put(d.name(), e);
    if (previous != null && previous != e) {
      superseded(previous, e, d);
    }
    // Metrics before the registry: whoever sees the driver registered finds the metrics saying so already.
    totalPlugins.labelValues(e.socket.path().toString(), "actual_state_of_world").set(1);
    driverHealthy.labelValues(d.name()).set(1);
    e.state = new PluginState.Registered(d, "");
    registry.put(d);
    e.nextBackoff = options.backoffInitial();
    e.probeFailures = 0;
    e.nextProbeAtMillis = System.currentTimeMillis() + options.probeInterval().toMillis();
    e.probeClient = new GrpcUnixClient(vertx, UnixEndpoint.parse(d.endpoint()));
    publishStatus();
  }

  /** A strictly higher version took the name: the old holder waits, and registers again when the new one goes. */
  private void superseded(Entry old, Entry by, RegisteredDriver d) {
    String oldVersion = ((PluginState.Registered) old.state).driver().highestSupportedVersion();
    closeProbe(old);
    totalPlugins.remove(old.socket.path().toString(), "actual_state_of_world");
    old.state = new PluginState.Conflict(d.name(), "driver " + d.name() + " is registered from " + by.socket.path()
        + " with CSI " + d.highestSupportedVersion() + ", higher than the " + oldVersion + " of " + old.socket.path()
        + ", which it replaced; " + old.socket.path() + " is registered again if " + by.socket.path() + " goes");
    LOG.warn("driver {} from {} (CSI {}) replaces the registration from {} (CSI {})", d.name(), by.socket.path(),
        d.highestSupportedVersion(), old.socket.path(), oldVersion);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** How often probes are due: every probe interval while healthy, and this often while unhealthy. */
  private Duration probeTick() {
    return min(options.probeInterval(), Duration.ofSeconds(1));
  }

  private void probeAll() {
    long now = System.currentTimeMillis();
    for (Entry e : List.copyOf(entries.values())) {
      if (!(e.state instanceof PluginState.Registered r) || e.probeClient == null || e.probing
          || (r.driver().healthy() && now < e.nextProbeAtMillis)) {
        continue;
      }
      String name = r.driver().name();
      Duration deadline = min(options.probeInterval(), Duration.ofSeconds(5));
      e.probing = true;
      e.probeClient.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), deadline).onComplete(ar -> {
        e.probing = false;
        e.nextProbeAtMillis = System.currentTimeMillis() + options.probeInterval().toMillis();
        if (!current(e) || !(e.state instanceof PluginState.Registered now2)) {
          return;
        }
        if (ar.succeeded()) {
          if (!now2.driver().healthy()) {
            LOG.info("driver {} is healthy again: Probe answered", name);
            health(e, true, "");
          }
          e.probeFailures = 0;
        } else if (++e.probeFailures >= options.probeFailuresUnhealthy()) {
          String problem = "Probe on " + now2.driver().endpoint() + " failed " + e.probeFailures + " times in a row, last: "
              + ar.cause().getMessage();
          if (now2.driver().healthy()) {
            LOG.warn("driver {} is unhealthy: {}; its mounts are left alone", name, problem);
          }
          health(e, false, problem);
        }
      });
    }
  }

  /** Records the holder's health: the gauge first, then status, then the registry (whose listeners may act on it). */
  private void health(Entry e, boolean healthy, String problem) {
    RegisteredDriver d = ((PluginState.Registered) e.state).driver();
    driverHealthy.labelValues(d.name()).set(healthy ? 1 : 0);
    RegisteredDriver now = d.healthy() == healthy ? d : d.withHealthy(healthy);
    e.state = new PluginState.Registered(now, problem);
    publishStatus();
    if (now != d) {
      registry.put(now);
    }
  }

  private void publishStatus() {
    List<PluginStatus> out = new ArrayList<>();
    for (Entry e : entries.values()) {
      String path = e.socket.path().toString();
      out.add(e.state.status(path));
    }
    out.sort(Comparator.comparing(PluginStatus::socketPath));
    status = List.copyOf(out);
  }

  public Future<Void> stop() {
    return vertx.executeBlocking(() -> {
      if (watcher != null) {
        watcher.close();
      }
      return null;
    }, false).compose(v -> {
      Promise<Void> done = Promise.promise();
      Runnable stopAll = () -> {
        stopped = true;
        vertx.cancelTimer(probeTimer);
        vertx.cancelTimer(rescanTimer);
        entries.values().forEach(this::release);
        entries.clear();
        publishStatus();
        done.complete();
      };
      if (context == null) {
        stopAll.run();
      } else {
        context.runOnContext(x -> stopAll.run());
      }
      return done.future();
    });
  }
}
