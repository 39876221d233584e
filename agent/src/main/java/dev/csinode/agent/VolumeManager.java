package dev.csinode.agent;

import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.mount.Mounter;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.csi.GrpcCsiNodeClient;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.operationexecutor.VolumeOperations;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.populator.DesiredStateOfWorldPopulator;
import dev.csinode.agent.provisioner.Provisioner;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.reconciler.VolumeReconstruction;
import dev.csinode.agent.volume.VolumeDirectories;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.status.VolumeManagerStatus.VolumeStatus;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.plugins.csi.DriverRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The volume manager: pod sources → desired state (populator) → reconciler → operations → CSI → actual state.
 * Feed it {@link ClusterObjects}; read {@link #pods()} and {@link #volumes()}.
 */
public final class VolumeManager {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(VolumeManager.class);
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

  private final Reconciler reconciler;
  private final ActualStateOfWorld asw;
  private final ActualStateJournal journal;
  private final io.prometheus.metrics.core.metrics.Counter reconstructed;
  private final io.prometheus.metrics.core.metrics.Counter reconstructErrors;
  private final Provisioner provisioner;
  private final Context context;
  private final OperationExecutor executor;
  private final CsiNodeClient csi;
  private final KubeletLayout layout;
  private volatile ClusterObjects objects = ClusterObjects.EMPTY;
  private volatile int diskProblems;
  /** Used on the context only; remembers each pod's resolution. */
  private final DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
  private final boolean removeOrphans;
  private final dev.csinode.agent.metrics.VolumeStatsCollector volumeStats;
  private final DriverRegistry.Subscription driversBack;

  public VolumeManager(Vertx vertx, KubeletLayout layout, java.nio.file.Path stateDir, String nodeName, DriverRegistry drivers,
                       PrometheusRegistry metrics, Options options) {
    this.layout = layout;
    this.removeOrphans = options.removeOrphans();
    this.context = vertx.getOrCreateContext();
    this.asw = new ActualStateOfWorld();
    this.journal = new ActualStateJournal(stateDir, ActualStateJournal.currentBootId());
    this.reconstructed = io.prometheus.metrics.core.metrics.Counter.builder().name("reconstruct_volume_operations_total")
        .help("Volumes rebuilt from the journal at start").register(metrics);
    this.reconstructErrors = io.prometheus.metrics.core.metrics.Counter.builder().name("reconstruct_volume_operations_errors_total")
        .help("Journal records that could not be used at start").register(metrics);
    this.csi = new GrpcCsiNodeClient(vertx, options.csiTimeout(), metrics);
    this.executor = new OperationExecutor(options.maxParallelOperations(), options.backoffInitial(),
        options.backoffMax(), System::currentTimeMillis);
    VolumeOperations operations = new VolumeOperations(vertx, layout, nodeName, drivers, csi, asw, () -> objects, journal);
    this.reconciler = new Reconciler(vertx, context, layout, asw, executor, operations, options.resyncInterval(),
        driver -> drivers.get(driver).map(d -> d.maxVolumesPerNode()).orElse(0L), options.removeOrphans());
    this.provisioner = new Provisioner(vertx, stateDir, drivers, csi, options.backoffInitial(), options.backoffMax(), effective -> {
      if (draining) {
        return;
      }
      objects = effective;
      reconciler.update(populator.build(effective, provisioner().errors(), provisioner().retrying()));
    });
    provisioner.inUse(pv -> {
      String unique = KubeletLayout.uniqueVolumeName(pv.getSpec().getCsi().getDriver(), pv.getSpec().getCsi().getVolumeHandle());
      Reconciler.Snapshot s = reconciler.snapshot();
      return s.desired().volume(unique).isPresent() || s.actualByName().containsKey(unique);
    });
    this.volumeStats = new dev.csinode.agent.metrics.VolumeStatsCollector(vertx, reconciler::snapshot, drivers, csi,
        options.volumeStatsInterval(), metrics);
    reconciler.onSnapshot(this::checkWaiters);
    // A driver that (re)registers may unblock waiting claims and volumes: look again at once.
    drivers.onChange(name -> context.runOnContext(v -> provisioner.refresh()));
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

  /**
   * Rebuilds the actual state from the journal and the host, then starts reconciling. What is correctly mounted
   * is not staged or published again; what is doubtful is UNCERTAIN.
   */
  public Future<Void> start() {
    Vertx vertx = context.owner();
    return vertx.executeBlocking(() -> {
      var entries = ActualStateJournal.rebased(journal.readAll(), layout.rootDir().given(), layout.root());
      Mounter mounter = new Mounter();
      // Check the host off the event loop, apply on the reconciler's context.
      ActualStateOfWorld scratch = new ActualStateOfWorld();
      ActualStateJournal.reconstruct(entries, journal.bootId(), mounter::isMountPoint, scratch);
      // What the disk shows mounted and the journal does not know (a lost state dir, a root taken over from a kubelet).
      VolumeDirectories.Scan scan = VolumeDirectories.scan(layout, mounter::isMountPoint);
      scan.problems().forEach(p -> LOG.warn("reconstruction: {}", p));
      for (String unique : VolumeReconstruction.addFromDisk(scan, layout, scratch)) {
        LOG.info("volume {} found mounted on disk but not in the journal: uncertain until set up again or torn down", unique);
      }
      diskProblems = scan.problems().size();
      return scratch;
    }, false).compose(rebuilt -> {
      io.vertx.core.Promise<Void> applied = io.vertx.core.Promise.promise();
      context.runOnContext(x -> {
        for (var v : rebuilt.volumes()) {
          var target = asw.getOrAdd(v.spec);
          target.attached = v.attached;
          target.publishContext = v.publishContext;
          target.device = v.device;
          target.stagingPath = v.stagingPath;
          target.pods.putAll(v.pods);
          reconstructed.inc();
          LOG.info("reconstructed volume {} (driver {}): device {}, pods {}", v.spec.specName(), v.spec.driver(), v.device,
              v.pods.values().stream().map(p -> p.podKey() + "=" + p.state()).toList());
        }
        reconstructErrors.inc(journal.skippedRecords() + diskProblems);
        // A uid claimed by several pods stays with the pod that held it before the restart.
        java.util.Map<String, String> holders = new java.util.HashMap<>();
        asw.volumes().forEach(v -> v.pods.values().forEach(p -> {
          if (!p.podKey().equals(p.podUid())) {
            holders.put(p.podUid(), p.podKey());
          }
        }));
        populator.previousHolders(holders);
        reconciler.start();
        volumeStats.start();
        applied.complete();
      });
      return applied.future();
    });
  }

  /** Operations running now (an operation completes only after its outcome is journaled). */
  public int operationsInFlight() {
    return executor.runningCount();
  }

  /** Must be called before {@link #start()}: the executor belongs to the reconciler's context afterwards. */
  public void observeOperations(OperationExecutor.Observer observer) {
    executor.observe(observer);
    provisioner.observe(observer);
  }

  /** Claims being provisioned and the PersistentVolumes the agent provisioned (Bound or Released). */
  public dev.csinode.agent.status.ProvisioningStatus provisioning() {
    return provisioner.status();
  }

  /** The provisioner, for the driver-availability hook ({@link Provisioner#driverAvailable}); use on {@link #context()}. */
  public Provisioner provisioner() {
    return provisioner;
  }

  public Context context() {
    return context;
  }

  /**
   * Deletes a provisioned volume whose claim is gone ({@code csi-node-agent pv delete}); fails with
   * {@link Provisioner.DeleteRefused} while it is bound or in use.
   */
  public Future<String> deleteProvisionedVolume(String name) {
    io.vertx.core.Promise<String> done = io.vertx.core.Promise.promise();
    context.runOnContext(v -> provisioner.delete(name).onComplete(done));
    return done.future();
  }

  /** Stops reconciling; completes when no housekeeping pass is left reading the root. Mounts stay. */
  public Future<Void> stop() {
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
    draining = true;
    reconciler.update(DesiredStateOfWorld.EMPTY);
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
    long deadline = System.currentTimeMillis() + timeout.toMillis();
    Vertx vertx = context.owner();
    vertx.setPeriodic(50, t -> {
      if (reconciler.snapshot().actual().isEmpty() && reconciler.snapshot().desired().volumes().isEmpty()) {
        vertx.cancelTimer(t);
        // Nothing is mounted any more: the pods' directories are orphans now, removed as at any resync.
        (removeOrphans ? reconciler.housekeep(true).<Void>mapEmpty().otherwiseEmpty() : Future.<Void>succeededFuture())
            .onComplete(x -> done.tryComplete());
      } else if (System.currentTimeMillis() > deadline) {
        vertx.cancelTimer(t);
        done.tryFail("volumes still mounted after " + timeout.toSeconds() + " s: " + volumes());
      }
    });
    return done.future();
  }

  /**
   * Completes once the pod sources have delivered, and no provisioning and no volume operation is running:
   * the point after which "nothing else will happen" can be asserted.
   */
  public Future<Void> idle(Duration timeout) {
    io.vertx.core.Promise<Void> done = io.vertx.core.Promise.promise();
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

  private volatile ClusterObjects incoming;
  private final java.util.concurrent.atomic.AtomicBoolean updatePending = new java.util.concurrent.atomic.AtomicBoolean();

  /**
   * New pod-source content: provision what needs it, rebuild the desired state and reconcile. Coalesced: updates
   * that arrive while one is being worked on collapse into one, so a burst of a thousand pod changes costs a few
   * rebuilds, not a thousand.
   */
  public void update(ClusterObjects newObjects) {
    incoming = newObjects;
    if (updatePending.compareAndSet(false, true)) {
      context.runOnContext(v -> {
        updatePending.set(false);
        if (!draining) {
          provisioner.update(incoming);
        }
      });
    }
  }

  private volatile boolean draining;

  public ClusterObjects objects() {
    return objects;
  }

  public Reconciler reconciler() {
    return reconciler;
  }

  public List<PodStatus> pods() {
    Reconciler.Snapshot s = reconciler.snapshot();
    List<PodStatus> out = new ArrayList<>();
    for (PodVolumes pv : s.desired().pods().values()) {
      out.add(status(s, pv));
    }
    return out;
  }

  /** One pod's status ({@code namespace/name}), or empty when no source names it. */
  public Optional<PodStatus> pod(String podKey) {
    Reconciler.Snapshot s = reconciler.snapshot(); // one snapshot for the whole answer
    return Optional.ofNullable(s.desired().pods().get(podKey)).map(pv -> status(s, pv));
  }

  private static PodStatus status(Reconciler.Snapshot s, PodVolumes pv) {
    List<PodVolume> vols = new ArrayList<>();
    boolean ready = pv.errors().isEmpty() && pv.waiting().isEmpty();
    for (String unique : pv.uniqueNames()) {
      VolumeSpec spec = s.desired().volume(unique).map(DesiredStateOfWorld.DesiredVolume::spec).orElse(null);
      VolumeView view = s.actualByName().get(unique);
      MountedPod mp = view == null ? null : view.pods().stream().filter(p -> p.podUid().equals(pv.podUid()) && p.of(pv.podKey()))
          .findFirst().orElse(null);
      OperationExecutor.Failure failure = Optional.ofNullable(s.failures().get(new OperationKey(unique, pv.podUid())))
          .orElse(s.failures().get(OperationKey.volume(unique)));
      boolean running = s.running().contains(OperationKey.volume(unique)) || s.running().contains(new OperationKey(unique, pv.podUid()));
      String state = state(view, mp, failure, running);
      String limit = s.limited().get(unique);
      ready &= state.equals("published");
      vols.add(new PodVolume(pv.podVolumeNames().get(unique), unique, spec == null ? "" : spec.driver(),
          spec == null ? "" : spec.volumeHandle(), state, view == null ? null : view.stagingPath(),
          mp != null && mp.state() == MountState.MOUNTED ? mp.targetPath() : null,
          limit != null ? limit : failure == null ? null : failure.error(),
          failure == null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    return new PodStatus(pv.podKey(), pv.podUid(), ready, vols, pv.errors(), pv.waiting(), pv.notHandled());
  }

  /** A pod a runtime waits for, until ready, in error or out of time. */
  private record Waiter(String podKey, io.vertx.core.Promise<PodStatus> promise, long timer) {}

  private final List<Waiter> waiters = new ArrayList<>(); // on the reconciler's context

  /**
   * Completes with the pod's status once all its volumes are published; fails at once when the pod has errors
   * that only a change of its objects can fix, and after the timeout otherwise, saying what it still waits for.
   * Event driven: checked when the reconciler publishes a new state, not polled.
   */
  public Future<PodStatus> whenReady(String podKey, Duration timeout) {
    io.vertx.core.Promise<PodStatus> promise = io.vertx.core.Promise.promise();
    context.runOnContext(x -> {
      if (check(podKey, promise)) {
        return;
      }
      long timer = context.owner().setTimer(Math.max(1, timeout.toMillis()), t -> {
        waiters.removeIf(w -> w.promise() == promise);
        String why = pod(podKey).map(p -> {
          List<String> parts = new ArrayList<>(p.waiting());
          p.volumes().stream().filter(v -> !v.state().equals("published"))
              .forEach(v -> parts.add(v.name() + " is " + v.state() + (v.lastError() == null ? "" : " (" + v.lastError() + ")")));
          return parts.toString();
        }).orElse("the pod is unknown");
        promise.tryFail(new WaitException(true, "pod " + podKey + " not ready after " + timeout.toMillis() + " ms: " + why));
      });
      waiters.add(new Waiter(podKey, promise, timer));
    });
    return promise.future();
  }

  /** Why a wait ended without a ready pod: {@code timedOut}, or the pod has errors. */
  public static final class WaitException extends RuntimeException {
    private final boolean timedOut;

    WaitException(boolean timedOut, String message) {
      super(message);
      this.timedOut = timedOut;
    }

    public boolean timedOut() {
      return timedOut;
    }
  }

  /** True when the wait is over (ready or failed). */
  private boolean check(String podKey, io.vertx.core.Promise<PodStatus> promise) {
    Reconciler.Snapshot s = reconciler.snapshot();
    PodVolumes pv = s.desired().pods().get(podKey);
    if (pv == null) {
      return false;
    }
    if (!pv.errors().isEmpty()) {
      promise.tryFail(new WaitException(false, "pod " + podKey + " cannot get ready: " + String.join("; ", pv.errors())));
      return true;
    }
    // Checked on every new state for every waiting pod: look at the pod's own volumes before building a status.
    if (!pv.waiting().isEmpty() || !pv.uniqueNames().stream().allMatch(unique -> {
      VolumeView v = s.actualByName().get(unique);
      return v != null && v.pods().stream().anyMatch(p -> p.podUid().equals(pv.podUid()) && p.of(pv.podKey())
          && p.state() == MountState.MOUNTED);
    })) {
      return false;
    }
    PodStatus status = status(s, pv);
    if (status.ready()) {
      promise.tryComplete(status);
      return true;
    }
    return false;
  }

  private void checkWaiters() {
    if (!waiters.isEmpty()) {
      waiters.removeIf(w -> {
        boolean over = check(w.podKey(), w.promise());
        if (over) {
          context.owner().cancelTimer(w.timer());
        }
        return over;
      });
    }
  }

  /**
   * A volume whose stage or publish is running is journaled UNCERTAIN until the call returns (so a crash leaves
   * "may be mounted"), but to a reader it is "in progress"; "uncertain" is an outcome nobody knows any more.
   */
  private static String state(VolumeView view, MountedPod mp, OperationExecutor.Failure failure, boolean running) {
    if (mp != null && mp.state() == MountState.MOUNTED) {
      return "published";
    }
    if (running) {
      return "in progress";
    }
    if (mp != null) {
      return "uncertain";
    }
    if (view != null && view.device() == DeviceState.UNCERTAIN) {
      return "uncertain";
    }
    if (failure != null) {
      return "failed";
    }
    if (view != null && view.device() == DeviceState.MOUNTED) {
      return "staged";
    }
    return "pending";
  }

  public List<VolumeStatus> volumes() {
    Reconciler.Snapshot s = reconciler.snapshot();
    List<VolumeStatus> out = new ArrayList<>();
    for (VolumeView v : s.actual().stream().sorted(java.util.Comparator.comparing(VolumeView::uniqueName)).toList()) {
      // A pod's teardown failing (a link above its publish path, say) is this volume's too: it cannot go until it is fixed.
      OperationExecutor.Failure f = Optional.ofNullable(s.failures().get(OperationKey.volume(v.uniqueName()))).orElseGet(() ->
          v.pods().stream().map(p -> s.failures().get(new OperationKey(v.uniqueName(), p.podUid()))).filter(java.util.Objects::nonNull)
              .findFirst().orElse(null));
      boolean running = s.running().stream().anyMatch(k -> k.volume().equals(v.uniqueName()));
      String state = running ? "in progress" : v.device() == DeviceState.UNCERTAIN || v.pods().stream().anyMatch(p -> p.state() == MountState.UNCERTAIN)
          ? "uncertain" : !v.pods().isEmpty() ? "published" : v.device() == DeviceState.MOUNTED ? "staged" : f != null ? "failed" : "pending";
      out.add(new VolumeStatus(v.uniqueName(), v.spec().driver(), v.spec().volumeHandle(), state, v.attached(), v.stagingPath(),
          v.pods().stream().map(MountedPod::podKey).toList(), f == null ? null : f.error(),
          f == null ? null : Instant.ofEpochMilli(f.notBeforeMillis()).toString()));
    }
    return out;
  }

  /** Orphaned pod directories: with {@code remove}, removes those it can now; otherwise what it would do. */
  public Future<List<OrphanedPodDirectories.Orphan>> orphans(boolean remove) {
    return reconciler.housekeep(remove);
  }

  public KubeletLayout layout() {
    return layout;
  }
}
