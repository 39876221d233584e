package dev.csinode.agent;

import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories;
import dev.csinode.agent.metrics.VolumeManagerMetrics;
import dev.csinode.agent.metrics.VolumeStatsCollector;
import dev.csinode.agent.csi.GrpcCsiNodeClient;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.VolumeOperations;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.populator.DesiredStateOfWorldPopulator;
import dev.csinode.agent.provisioner.ControllerClient;
import dev.csinode.agent.provisioner.Provisioner;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.PodWaiters;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.VolumeStatus;
import dev.csinode.agent.status.VolumeManagerView;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.plugins.csi.DriverRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volume manager, composed: pod sources → claim binding ({@link Provisioner}) → desired state (populator) →
 * {@link Reconciler} → operations → CSI → actual state, in that one direction ({@link VolumePipeline}, the one
 * place changes are coalesced). Status, {@code pod wait} ({@link PodWaiters}) and metrics read the reconciler's and
 * the provisioner's snapshots through one {@link VolumeManagerView}. Feed it the sources ({@link #sourcesChanged});
 * read {@link #pods()} and {@link #volumes()}.
 */
public final class VolumeManager {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeManager.class);
  /**
   * Knobs; defaults are the kubelet's backoff, a 10 s resync (drift, unmanaged mounts, orphaned pod directories),
   * the kubelet's 1 min volume stats period, and orphaned pod directories removed (false: only reported).
   */
  public record Options(int maxParallelOperations, Duration backoffInitial, Duration backoffMax, Duration resyncInterval,
                        Duration csiTimeout, Duration volumeStatsInterval, boolean removeOrphans) {
    public Options(int maxParallelOperations, Duration backoffInitial, Duration backoffMax, Duration resyncInterval,
                   Duration csiTimeout) {
      this(maxParallelOperations, backoffInitial, backoffMax, resyncInterval, csiTimeout, Duration.ofMinutes(1), true);
    }

    public Options {
      if (maxParallelOperations < 1) {
        throw new IllegalArgumentException("the number of parallel volume operations must be at least 1, not " + maxParallelOperations);
      }
      for (Duration d : List.of(backoffInitial, backoffMax, resyncInterval, csiTimeout, volumeStatsInterval)) {
        if (d.isNegative() || d.isZero()) {
          throw new IllegalArgumentException("volume manager durations must be positive, not " + d.toMillis() + " ms");
        }
      }
      if (backoffMax.compareTo(backoffInitial) < 0) {
        throw new IllegalArgumentException("the maximum backoff (" + backoffMax.toMillis() + " ms) is below the initial one ("
            + backoffInitial.toMillis() + " ms)");
      }
    }

    public static Options defaults() {
      return new Options(64, Duration.ofMillis(500), Duration.ofSeconds(122), Duration.ofSeconds(10), Duration.ofMinutes(2));
    }
  }

  /**
   * What the volume manager takes from the host: its view of the mounts and the boot id its journal records.
   * {@link #real()} is the kernel's; the simulator's node-scale mode gives a table its in-memory driver keeps and a
   * boot id of its own, so that the whole volume manager runs without root and a simulated reboot changes the id.
   */
  public record Host(MountPoints mounts, Supplier<String> bootId) {
    public static Host real() {
      return new Host(MountPoints.host(), ActualStateJournal::currentBootId);
    }
  }

  private final Context context;
  private final KubeletLayout layout;
  private final boolean removeOrphans;
  private final ActualStateJournal journal;
  private final CsiNodeClient csi;
  /** Volume operations (attach, stage, publish and back), run by the reconciler. */
  private final OperationExecutor executor;
  private final Reconciler reconciler;
  private final Provisioner provisioner;
  /** Used on the context only; remembers each pod's resolution. */
  private final DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
  private final VolumePipeline pipeline;
  private final VolumeManagerView view;
  private final PodWaiters waiters;
  private final StartupReconstruction reconstruction;
  private final VolumeStatsCollector volumeStats;
  private final DriverRegistry.Subscription driversBack;
  private final OperationExecutor provisioning;

  public VolumeManager(Vertx vertx, KubeletLayout layout, Path stateDir, String nodeName, DriverRegistry drivers,
                       PrometheusRegistry metrics, Options options) {
    this(vertx, layout, stateDir, nodeName, drivers, metrics, options, Host.real());
  }

  public VolumeManager(Vertx vertx, KubeletLayout layout, Path stateDir, String nodeName, DriverRegistry drivers,
                       PrometheusRegistry metrics, Options options, Host host) {
    this.layout = layout;
    this.removeOrphans = options.removeOrphans();
    this.context = vertx.getOrCreateContext();
    ActualStateOfWorld asw = new ActualStateOfWorld();
    this.journal = new ActualStateJournal(stateDir, host.bootId().get());
    // One view of the host's mounts for everything that looks before it removes or decides.
    MountPoints mounts = host.mounts();
    this.reconstruction = new StartupReconstruction(context, layout, journal, asw, mounts, metrics);
    this.csi = new GrpcCsiNodeClient(vertx, options.csiTimeout(), metrics);
    this.executor = new OperationExecutor(options.maxParallelOperations(), options.backoffInitial(),
        options.backoffMax(), System::currentTimeMillis);
    // Creations and deletions of provisioned volumes: the same policy (backoff, bound on parallel calls, the
    // driver's return ending a backoff), keyed by PersistentVolume name, which the reconciler does not know.
    this.provisioning = new OperationExecutor(options.maxParallelOperations(), options.backoffInitial(),
        options.backoffMax(), System::currentTimeMillis);
    VolumeOperations operations = new VolumeOperations(vertx, layout, nodeName, drivers, csi, asw, this::objects, journal, mounts);
    this.reconciler = new Reconciler(vertx, context, layout, asw, executor, operations, options.resyncInterval(),
        driver -> drivers.get(driver).map(d -> d.maxVolumesPerNode()).orElse(0L), options.removeOrphans(), mounts);
    this.provisioner = new Provisioner(context, stateDir, drivers, ControllerClient.of(csi), this.provisioning, System::currentTimeMillis,
        this::claimBindingChanged);
    this.pipeline = new VolumePipeline(context, provisioner, populator, reconciler);
    this.view = VolumeManagerView.of(reconciler, provisioner::status);
    provisioner.inUse(pv -> view.inUse(KubeletLayout.uniqueVolumeName(pv.getSpec().getCsi().getDriver(),
        pv.getSpec().getCsi().getVolumeHandle())));
    this.waiters = new PodWaiters(context, view);
    this.volumeStats = new VolumeStatsCollector(vertx, view::snapshot, drivers, csi, options.volumeStatsInterval(), metrics);
    OperationExecutor.Observer durations = VolumeManagerMetrics.operationDurations(metrics);
    executor.observe(durations);
    provisioning.observe(durations);
    VolumeManagerMetrics.register(metrics, view, executor::runningCount);
    // A driver that (re)registers may unblock waiting claims: bind again.
    drivers.onChange(name -> pipeline.stageChanged());
    // A driver back (registered, healthy again): what failed because it was away runs now, not after its backoff;
    // creations and deletions that failed with it too.
    this.driversBack = drivers.onAvailable(name -> context.runOnContext(v -> {
      provisioner.driverAvailable(name);
      int due = executor.driverAvailable(name);
      if (due > 0) {
        LOG.info("driver {} is available again: retrying now the {} volume operation(s) that failed while it was away", name, due);
        reconciler.reconcileNow();
      }
    }));
  }

  /** The provisioner's signal: its binding changed (a volume created or deleted, a backoff over). */
  private void claimBindingChanged() {
    pipeline.stageChanged();
  }

  /**
   * Rebuilds the actual state from the journal and the host, then starts reconciling. What is correctly mounted
   * is not staged or published again; what is doubtful is UNCERTAIN.
   */
  public Future<Void> start() {
    return reconstruction.run().map(holders -> {
      populator.previousHolders(holders);
      reconciler.start();
      volumeStats.start();
      return null;
    });
  }

  /**
   * The pod sources changed; {@code sources} reads their objects when the pipeline runs (coalesced: changes that
   * arrive while a run waits are taken by it).
   */
  public void sourcesChanged(Supplier<ClusterObjects> sources) {
    pipeline.sourcesChanged(sources);
  }

  /** New pod-source content, as {@link #sourcesChanged}. */
  public void update(ClusterObjects objects) {
    sourcesChanged(() -> objects);
  }

  /** The objects the desired state was last built from: the sources' with claims bound, provisioned volumes added. */
  public ClusterObjects objects() {
    return pipeline.objects();
  }

  /** Operations running now (an operation completes only after its outcome is journaled). */
  public int operationsInFlight() {
    return executor.runningCount();
  }

  /** The one read side of the volume manager: status, waiters and metrics. */
  public VolumeManagerView view() {
    return view;
  }

  /** Claims being provisioned and the PersistentVolumes the agent provisioned (Bound or Released). */
  public ProvisioningStatus provisioning() {
    return provisioner.status();
  }

  /** The provisioner ({@link Provisioner#driverAvailable}, {@link Provisioner#problemLines}); use on {@link #context()}. */
  public Provisioner provisioner() {
    return provisioner;
  }

  public Context context() {
    return context;
  }

  public Reconciler reconciler() {
    return reconciler;
  }

  public KubeletLayout layout() {
    return layout;
  }

  /**
   * Deletes a provisioned volume whose claim is gone ({@code csi-node-agent pv delete}); fails with
   * {@link Provisioner.DeleteRefused} while it is bound or in use.
   */
  public Future<String> deleteProvisionedVolume(String name) {
    Promise<String> done = Promise.promise();
    context.runOnContext(v -> provisioner.delete(name).onComplete(done));
    return done.future();
  }

  /** Stops reconciling; completes when no housekeeping pass is left reading the root. Mounts stay. */
  public Future<Void> stop() {
    pipeline.stop();
    driversBack.close();
    context.runOnContext(v -> volumeStats.stop());
    return reconciler.stop().eventually(() -> {
      csi.close();
      journal.close();
      provisioner.close();
      return Future.succeededFuture();
    });
  }

  /**
   * Tears down every volume (unpublish, unstage, detach) and completes when nothing is left or the timeout
   * passes; the pod sources must be stopped first. For --drain-on-exit: the kubelet leaves volumes mounted.
   */
  public Future<Void> drain(Duration timeout) {
    pipeline.stop();
    return VolumeDrain.drain(context.owner(), reconciler, view, removeOrphans, timeout);
  }

  /**
   * Completes once the pod sources have delivered, and no provisioning and no volume operation is running:
   * the point after which "nothing else will happen" can be asserted.
   */
  public Future<Void> idle(Duration timeout) {
    Promise<Void> done = Promise.promise();
    long deadline = System.currentTimeMillis() + timeout.toMillis();
    Vertx vertx = context.owner();
    context.runOnContext(x -> vertx.setPeriodic(20, t -> {
      if (provisioner.idle() && executor.runningCount() == 0) {
        vertx.cancelTimer(t);
        done.tryComplete();
      } else if (System.currentTimeMillis() > deadline) {
        vertx.cancelTimer(t);
        done.tryFail("still busy after " + timeout.toSeconds() + " s");
      }
    }));
    return done.future();
  }

  /**
   * What a reload may change while volumes are in use: the backoff bounds of volume operations and provisioning
   * calls, and the resync period. Operations in flight and waits already scheduled keep their old values.
   */
  public void retune(Duration backoffInitial, Duration backoffMax, Duration resyncInterval) {
    executor.backoff(backoffInitial, backoffMax);
    provisioning.backoff(backoffInitial, backoffMax);
    reconciler.resyncInterval(resyncInterval);
  }

  public List<PodStatus> pods() {
    return view.pods();
  }

  /** One pod's status ({@code namespace/name}), or empty when no source names it. */
  public Optional<PodStatus> pod(String podKey) {
    return view.pod(podKey);
  }

  public List<VolumeStatus> volumes() {
    return view.volumes();
  }

  /** See {@link PodWaiters#whenReady}. */
  public Future<PodStatus> whenReady(String podKey, Duration timeout) {
    return waiters.whenReady(podKey, timeout);
  }

  /** Orphaned pod directories: with {@code remove}, removes those it can now; otherwise what it would do. */
  public Future<List<OrphanedPodDirectories.Orphan>> orphans(boolean remove) {
    return reconciler.housekeep(remove);
  }
}
