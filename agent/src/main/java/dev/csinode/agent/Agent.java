package dev.csinode.agent;

import dev.csinode.agent.api.AgentApiServer;
import dev.csinode.agent.metrics.MetricsServer;
import dev.csinode.agent.api.AgentApi;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.podsource.ApiObjectStore;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestDirectorySource;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.agent.podsource.MergedSources;
import dev.csinode.agent.provisioner.Provisioner;
import dev.csinode.agent.status.PodWaiters;
import dev.csinode.agent.status.StatusReport;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.PrivateFiles;
import dev.csinode.mount.RecordLog;
import dev.csinode.plugins.PluginManager;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.plugins.registrar.Registrar;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import dev.csinode.util.GoDuration;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running agent: the plugin manager (drivers), the local API, and optionally a bundled driver, which
 * registers through its own registration socket like any other driver.
 */
public final class Agent implements AgentApi {
  private static final Logger LOG = LoggerFactory.getLogger(Agent.class);

  /** How the agent runs. */
  public record Config(Path rootDir, String nodeName, Path apiSocket, BundledDriver bundledDriver,
                       PluginManager.Options pluginOptions, Path podManifests, VolumeManager.Options volumeOptions,
                       String metricsAddress, boolean drainOnExit, long apiMaxBodyBytes, VolumeManager.Host host) {
    public static final String DEFAULT_METRICS_ADDRESS = "127.0.0.1:9808";

    public Config(Path rootDir, String nodeName, Path apiSocket, BundledDriver bundledDriver, PluginManager.Options pluginOptions,
                  Path podManifests, VolumeManager.Options volumeOptions, String metricsAddress, boolean drainOnExit,
                  long apiMaxBodyBytes) {
      this(rootDir, nodeName, apiSocket, bundledDriver, pluginOptions, podManifests, volumeOptions, metricsAddress, drainOnExit,
          apiMaxBodyBytes, null);
    }

    public Config(Path rootDir, String nodeName, Path apiSocket, BundledDriver bundledDriver, PluginManager.Options pluginOptions,
                  Path podManifests, VolumeManager.Options volumeOptions, String metricsAddress, boolean drainOnExit) {
      this(rootDir, nodeName, apiSocket, bundledDriver, pluginOptions, podManifests, volumeOptions, metricsAddress, drainOnExit,
          AgentApiServer.DEFAULT_MAX_BODY_BYTES);
    }

    public Config(Path rootDir, String nodeName, Path apiSocket, BundledDriver bundledDriver, PluginManager.Options pluginOptions) {
      this(rootDir, nodeName, apiSocket, bundledDriver, pluginOptions, null, VolumeManager.Options.defaults(), null, false);
    }

    public Config {
      rootDir = rootDir.toAbsolutePath().normalize();
      apiSocket = apiSocket == null ? rootDir.resolve("csi-node-agent.sock") : apiSocket.toAbsolutePath().normalize();
      host = host == null ? VolumeManager.Host.real() : host;
    }

    /** This configuration on another host view (the simulator's simulated mounts and boot id). */
    public Config withHost(VolumeManager.Host host) {
      return new Config(rootDir, nodeName, apiSocket, bundledDriver, pluginOptions, podManifests, volumeOptions, metricsAddress,
          drainOnExit, apiMaxBodyBytes, host);
    }

    /** The agent's own state: provisioned volumes, and later the journal. */
    public Path stateDir() {
      return rootDir.resolve("csi-node-agent");
    }

    /** Where the bundled driver keeps its socket and state, as node-driver-registrar's drivers do. */
    public Path bundledDriverDir() {
      return rootDir.resolve("plugins").resolve(bundledDriver.name());
    }
  }

  private final Vertx vertx;
  private final Config config;
  private final DriverRegistry drivers = new DriverRegistry();
  private final PrometheusRegistry metrics = new PrometheusRegistry();
  private PluginManager plugins;
  private AgentApiServer api;
  private BundledDriver.Running bundledDriver;
  private Registrar bundledRegistrar;
  private VolumeManager volumes;
  private ManifestDirectorySource manifests;
  private MetricsServer metricsServer;
  private ApiObjectStore pushed;
  private volatile ClusterObjects manifestObjects = ClusterObjects.EMPTY;
  private final MergedSources merged = new MergedSources();
  private volatile RuntimeSettings settings;
  private volatile RootLock rootLock;

  public Agent(Vertx vertx, Config config) {
    this.vertx = vertx;
    this.config = config;
    this.settings = RuntimeSettings.of(config);
  }

  public Future<Agent> start() {
    KubeletLayout layout;
    try {
      RootLock.refuseKubelet(config.rootDir()); // before anything is made in a kubelet's root
      layout = new KubeletLayout(config.rootDir());
      // Before anything opens its records: they include pushed Secrets. Made or opened beneath the root without
      // following a link: a link there would send the records wherever it points, so the agent does not start.
      PrivateFiles.createDirectories(layout.rootDir(), config.stateDir(), config.stateDir().resolve("journal"));
      PrivateFiles.restrict(layout.rootDir(), config.stateDir(), p -> false);
      rootLock = RootLock.acquire(config.rootDir(), config.stateDir());
    } catch (IllegalStateException e) {
      return Future.failedFuture(e); // another agent or a kubelet: its message says which
    } catch (IOException e) {
      return Future.failedFuture(new UncheckedIOException("cannot make the agent's state directory " + config.stateDir()
          + " private (0700): " + e.getMessage(), e));
    } catch (UncheckedIOException e) {
      return Future.failedFuture(e); // the root itself: its message says so
    }
    plugins = new PluginManager(vertx, config.rootDir(), drivers, metrics, config.pluginOptions());
    volumes = new VolumeManager(vertx, layout, config.stateDir(), config.nodeName(), drivers, metrics,
        config.volumeOptions(), config.host());
    GaugeWithCallback.builder().name("csi_node_agent_degraded_records")
        .help("Record logs under the root (journal, provisioned volumes, pushed objects, the bundled driver's state) that "
            + "cannot be written now, e.g. on a full disk; changes to them fail until they can")
        .callback(cb -> cb.call(RecordLog.degraded(config.rootDir()).size())).register(metrics);
    return volumes.start()
        .compose(v -> plugins.start())
        .compose(v -> config.metricsAddress() == null || config.metricsAddress().isEmpty() ? Future.succeededFuture()
            : MetricsServer.start(vertx, config.metricsAddress(), metrics).map(m -> {
              metricsServer = m;
              LOG.info("metrics on http://{}/metrics", config.metricsAddress().replaceAll(":0$", ":" + m.port()));
              return null;
            }))
        .compose(v -> vertx.executeBlocking(() -> {
          pushed = new ApiObjectStore(config.stateDir());
          return null;
        }, false))
        .compose(v -> AgentApiServer.start(vertx, config.apiSocket(), this, config.apiMaxBodyBytes()))
        .compose(server -> {
          api = server;
          return config.bundledDriver() != null ? startBundledDriver() : Future.succeededFuture();
        })
        .compose(v -> {
          if (config.podManifests() == null) {
            sourcesChanged(); // the API is the only source: it is ready now
            return Future.succeededFuture();
          }
          return vertx.executeBlocking(() -> {
            manifests = new ManifestDirectorySource(config.podManifests(), vertx.getOrCreateContext(), objects -> {
              manifestObjects = objects;
              sourcesChanged();
            });
            manifests.start();
            return null;
          }, false);
        })
        .map(v -> {
          LOG.info("agent for node {} running: root {}, API {}", config.nodeName(), config.rootDir(), config.apiSocket());
          return this;
        });
  }

  private Future<Void> startBundledDriver() {
    Path dir = config.bundledDriverDir();
    UnixEndpoint endpoint = new UnixEndpoint(dir.resolve("csi.sock"));
    return config.bundledDriver().start(vertx, endpoint, config.nodeName(), dir.resolve("state")).compose(d -> {
      bundledDriver = d;
      return Registrar.start(vertx, endpoint, endpoint.path().toString(), plugins.registryDir(),
          Duration.ofSeconds(30), Duration.ofSeconds(5));
    }).compose(r -> {
      bundledRegistrar = r;
      r.rejection().onFailure(err -> LOG.error("the bundled driver was refused: {}", err.getMessage()));
      // Pods read before the driver registered would only fail and back off once: wait for it.
      Promise<Void> settled = Promise.promise();
      r.accepted().onComplete(ar -> settled.tryComplete());
      r.rejection().onComplete(ar -> settled.tryComplete());
      return settled.future();
    });
  }

  @Override
  public StatusReport status() {
    var housekeeping = volumes.view().snapshot();
    return StatusReport.of(config.nodeName(), config.rootDir().toString(), plugins.status(), volumes.pods(),
        volumes.volumes(), volumes.objects().errors(), housekeeping.unmanagedMounts(), housekeeping.orphans(), volumes.provisioning())
        .withDegradedRecords(RecordLog.degraded(config.rootDir()));
  }

  /**
   * The volume manager coalesces changes and reads the merged sources when it runs: one O(objects) merge per
   * change of a source, none for its other runs.
   */
  private void sourcesChanged() {
    volumes.sourcesChanged(() -> merged.of(manifestObjects, pushed.objects()));
  }

  /**
   * Completes once the pod sources have delivered their first content to the volume manager: with the journal
   * reconstructed and the registration watcher up (both before {@link #start} completes), the agent is ready.
   */
  public Future<Void> sourcesDelivered() {
    return volumes.reconciler().populated();
  }

  @Override
  public Future<ApplyResult> apply(String manifest) {
    return vertx.executeBlocking(() -> {
      ManifestParser.Result parsed = ManifestParser.parse(Path.of("request"), manifest);
      pushed.apply(parsed.objects());
      return new ApplyResult(parsed.objects().stream().map(o -> o.getKind() + " " + ClusterObjects.key(o)).toList(), parsed.errors());
    }, false).onSuccess(r -> {
      if (!r.applied().isEmpty()) {
        LOG.info("API: applied {}", r.applied());
        sourcesChanged();
      }
    });
  }

  @Override
  public Future<Boolean> deletePod(String namespace, String name) {
    return deleteObject("Pod", namespace, name);
  }

  @Override
  public Future<Boolean> deleteObject(String kind, String namespace, String name) {
    String ns = ApiObjectStore.CLUSTER_SCOPED.contains(kind) ? "_" : namespace;
    return vertx.executeBlocking(() -> pushed.delete(kind, ns, name), false).onSuccess(deleted -> {
      if (deleted) {
        LOG.info("API: deleted {} {}/{}", kind, namespace, name);
        sourcesChanged();
      }
    });
  }

  @Override
  public Optional<PodStatus> pod(String namespace, String name) {
    return volumes.pod(namespace + "/" + name);
  }

  @Override
  public Future<PodStatus> waitReady(String namespace, String name, Duration timeout) {
    return volumes.whenReady(namespace + "/" + name, timeout).recover(err ->
        Future.failedFuture(err instanceof PodWaiters.WaitException w ? new ApiException(w.timedOut() ? 408 : 422, w.getMessage()) : err));
  }

  @Override
  public Future<List<Orphan>> orphans(boolean remove) {
    return volumes.orphans(remove);
  }

  @Override
  public PersistentVolumes persistentVolumes() {
    return new PersistentVolumes(volumes.provisioning().volumes());
  }

  @Override
  public Future<PersistentVolumeDeleted> deletePersistentVolume(String name) {
    return volumes.deleteProvisionedVolume(name).map(done -> new PersistentVolumeDeleted(name, done)).recover(err ->
        Future.failedFuture(err instanceof Provisioner.DeleteRefused r ? new ApiException(switch (r.reason()) {
          case NOT_FOUND -> 404;
          case CONFLICT -> 409;
          case UNAVAILABLE -> 503;
        }, r.getMessage()) : err));
  }

  /** The metrics port, or -1 when metrics are off. */
  public int metricsPort() {
    return metricsServer == null ? -1 : metricsServer.port();
  }

  public VolumeManager volumeManager() {
    return volumes;
  }

  public DriverRegistry drivers() {
    return drivers;
  }

  public PrometheusRegistry metrics() {
    return metrics;
  }

  public Config config() {
    return config;
  }

  /**
   * What a reload (SIGHUP) may change while the agent runs; everything else of {@link Config} takes a restart.
   */
  public record RuntimeSettings(Duration probeInterval, Duration backoffInitial, Duration backoffMax, Duration resyncPeriod) {
    /** The settings a configuration starts with. */
    public static RuntimeSettings of(Config c) {
      return new RuntimeSettings(c.pluginOptions().probeInterval(), c.volumeOptions().backoffInitial(),
          c.volumeOptions().backoffMax(), c.volumeOptions().resyncInterval());
    }
  }

  /**
   * Applies new runtime settings; returns what changed ({@code backoff-max 2m2s -> 30s}), empty when nothing did.
   *
   * @throws IllegalArgumentException when they do not fit together (nothing is changed then)
   */
  public synchronized List<String> reload(RuntimeSettings next) {
    RuntimeSettings now = settings;
    // The start's own checks: positive durations, the maximum backoff not below the initial one.
    new VolumeManager.Options(1, next.backoffInitial(), next.backoffMax(), next.resyncPeriod(), Duration.ofSeconds(1));
    if (next.probeInterval().isNegative() || next.probeInterval().isZero()) {
      throw new IllegalArgumentException("the probe interval must be positive, not " + GoDuration.format(next.probeInterval()));
    }
    List<String> changed = new ArrayList<>();
    change(changed, "probe-interval", now.probeInterval(), next.probeInterval());
    change(changed, "backoff-initial", now.backoffInitial(), next.backoffInitial());
    change(changed, "backoff-max", now.backoffMax(), next.backoffMax());
    change(changed, "resync-period", now.resyncPeriod(), next.resyncPeriod());
    if (!changed.isEmpty()) {
      plugins.probeInterval(next.probeInterval());
      volumes.retune(next.backoffInitial(), next.backoffMax(), next.resyncPeriod());
      settings = next;
    }
    return changed;
  }

  /** The runtime settings in force. */
  public RuntimeSettings settings() {
    return settings;
  }

  private static void change(List<String> changed, String key, Duration was, Duration is) {
    if (!was.equals(is)) {
      changed.add(key + " " + GoDuration.format(was) + " -> " + GoDuration.format(is));
    }
  }

  /**
   * Lets go of the root without stopping anything, as the agent's death would: the simulator's crash of an agent in
   * process, after which the next agent on the same root starts. {@link #stop} does it too.
   */
  public void abandon() {
    RootLock lock = rootLock;
    rootLock = null;
    if (lock != null) {
      lock.close();
    }
  }

  /** Stops serving; mounts are left as they are, as the kubelet leaves them. */
  public Future<Void> stop() {
    Future<Void> f = Future.succeededFuture();
    if (manifests != null) {
      manifests.close();
    }
    if (volumes != null && config.drainOnExit()) {
      LOG.info("draining: tearing down every volume before exit");
      f = volumes.drain(Duration.ofMinutes(2)).onFailure(err -> LOG.error("drain incomplete: {}", err.getMessage()))
          .otherwiseEmpty();
    }
    if (volumes != null) {
      VolumeManager vm = volumes;
      f = f.eventually(vm::stop);
    }
    if (bundledRegistrar != null) {
      f = f.eventually(bundledRegistrar::stop);
    }
    if (bundledDriver != null) {
      f = f.eventually(bundledDriver::stop);
    }
    if (api != null) {
      f = f.eventually(api::stop);
    }
    if (pushed != null) {
      ApiObjectStore store = pushed;
      f = f.eventually(() -> {
        store.close(); // after the API: no apply can come any more
        return Future.succeededFuture();
      });
    }
    if (metricsServer != null) {
      f = f.eventually(metricsServer::stop);
    }
    if (plugins != null) {
      f = f.eventually(plugins::stop);
    }
    return f.onComplete(ar -> {
      abandon();
      LOG.info("agent stopped");
    });
  }
}
