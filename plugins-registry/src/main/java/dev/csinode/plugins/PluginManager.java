package dev.csinode.plugins;

import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.csi.CsiPluginHandler;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.plugins.registration.PluginRegistration;
import dev.csinode.plugins.registration.RegistrationException;
import dev.csinode.plugins.watcher.PluginSocket;
import dev.csinode.plugins.watcher.PluginWatcher;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
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
 * replaced. What it adds to the kubelet: failed registrations are retried with capped exponential backoff for
 * as long as the socket exists; sockets nobody serves are reported as stale (and never deleted); every
 * registered driver is probed and marked unhealthy after two failed probes. Each socket's attempt runs on its
 * own, so one hanging plugin delays nobody else.
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
    GrpcUnixClient probeClient;

    Entry(PluginSocket socket, Duration initialBackoff) {
      this.socket = socket;
      this.nextBackoff = initialBackoff;
    }
  }

  private final Vertx vertx;
  private final Path rootDir;
  private final DriverRegistry registry;
  private final Options options;
  private final PluginRegistration registration;
  private final Gauge totalPlugins;
  private final Gauge driverHealthy;
  private final Map<Path, Entry> entries = new HashMap<>();
  private Context context;
  private PluginWatcher watcher;
  private long probeTimer = -1;
  private long rescanTimer = -1;
  private volatile List<PluginStatus> status = List.of();

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
      probeTimer = vertx.setPeriodic(options.probeInterval().toMillis(), t -> probeAll());
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
      io.vertx.core.Promise<Void> handled = io.vertx.core.Promise.promise();
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

  /** Forgets an entry: cancels its retry, deregisters its driver. No call to the plugin, as in the kubelet. */
  private void release(Entry e) {
    if (e.retryTimer >= 0) {
      vertx.cancelTimer(e.retryTimer);
    }
    if (e.probeClient != null) {
      e.probeClient.close();
      e.probeClient = null;
    }
    if (e.state instanceof PluginState.Registered r) {
      if (registry.remove(r.driverName(), e.socket.path())) {
        LOG.info("driver {} deregistered: its registration socket {} is gone", r.driverName(), e.socket.path());
      }
      driverHealthy.remove(r.driverName());
      totalPlugins.remove(e.socket.path().toString(), "actual_state_of_world");
    }
  }

  private boolean current(Entry e) {
    return entries.get(e.socket.path()) == e;
  }

  private void attempt(Entry e) {
    e.retryTimer = -1;
    e.state = new PluginState.Registering();
    publishStatus();
    registration.register(e.socket.path(), driver -> {
      if (!current(e)) {
        throw new RegistrationException("registration socket " + e.socket.path() + " was replaced during registration", false);
      }
      installed(e, driver);
    }).onComplete(ar -> {
      if (!current(e)) {
        return;
      }
      if (ar.succeeded()) {
        RegisteredDriver d = ar.result();
        LOG.info("driver {} registered from {}: endpoint {}, node id {}, CSI {}", d.name(), e.socket.path(),
            d.endpoint(), d.nodeId(), d.highestSupportedVersion());
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
      publishStatus();
    });
  }

  /** Everything that makes a registration visible, done before the plugin hears it is registered. */
  private void installed(Entry e, RegisteredDriver d) {
    // Metrics before the registry: whoever sees the driver registered finds the metrics saying so already.
    totalPlugins.labelValues(e.socket.path().toString(), "actual_state_of_world").set(1);
    driverHealthy.labelValues(d.name()).set(1);
    registry.put(d);
    e.state = new PluginState.Registered(d.name());
    e.nextBackoff = options.backoffInitial();
    e.probeFailures = 0;
    e.probeClient = new GrpcUnixClient(vertx, UnixEndpoint.parse(d.endpoint()));
    publishStatus();
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private void probeAll() {
    for (Entry e : List.copyOf(entries.values())) {
      if (!(e.state instanceof PluginState.Registered r) || e.probeClient == null) {
        continue;
      }
      Duration deadline = min(options.probeInterval(), Duration.ofSeconds(5));
      e.probeClient.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), deadline).onComplete(ar -> {
        if (!current(e)) {
          return;
        }
        if (ar.succeeded()) {
          if (e.probeFailures >= options.probeFailuresUnhealthy()) {
            LOG.info("driver {} is healthy again: Probe answered", r.driverName());
            // The gauge first: whoever sees the registry change must find the metric already saying so.
            driverHealthy.labelValues(r.driverName()).set(1);
            registry.get(r.driverName()).ifPresent(d -> registry.put(d.withHealthy(true)));
          }
          e.probeFailures = 0;
        } else if (++e.probeFailures == options.probeFailuresUnhealthy()) {
          LOG.warn("driver {} is unhealthy: {} Probe calls in a row failed, last: {}; its mounts are left alone",
              r.driverName(), e.probeFailures, ar.cause().getMessage());
          driverHealthy.labelValues(r.driverName()).set(0);
          registry.get(r.driverName()).ifPresent(d -> registry.put(d.withHealthy(false)));
        }
      });
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
      io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
      Runnable stopAll = () -> {
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
