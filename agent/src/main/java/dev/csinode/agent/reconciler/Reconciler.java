package dev.csinode.agent.reconciler;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.operationexecutor.VolumeOperations;
import dev.csinode.mount.Mounter;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives the actual state of world towards the desired one, in the kubelet's order: unmount pods that no
 * longer need a volume, then attach/stage/publish what is missing, then unstage/detach volumes no pod uses.
 * Event driven: a new desired state or a finished operation starts a pass at once (coalesced); a periodic
 * resync catches drift, such as a publish mount that vanished, which is published again.
 *
 * <p>All state is owned by one Vert.x context.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);

  private final Vertx vertx;
  private final Context context;
  private final ActualStateOfWorld asw;
  private final OperationExecutor executor;
  private final VolumeOperations operations;
  private final Duration resyncInterval;
  private final Mounter mounter = new Mounter();
  private final java.util.function.ToLongFunction<String> maxVolumes;
  private java.util.Map<String, String> limited = java.util.Map.of();
  private DesiredStateOfWorld dsw = DesiredStateOfWorld.EMPTY;
  /**
   * False until the pod sources delivered a desired state: before that an empty desired state means "not known
   * yet", not "nothing wanted", so nothing reconstructed is torn down (the kubelet's readyToUnmount).
   */
  private boolean desiredPopulated;
  private boolean passScheduled;
  private long resyncTimer = -1;
  private long retryTimer = -1;
  private long retryAt;
  private volatile Snapshot snapshot = new Snapshot(DesiredStateOfWorld.EMPTY, List.of(), java.util.Map.of(), java.util.Map.of());

  /** What status readers see: the desired state, the actual state and the last failure per operation key. */
  public record Snapshot(DesiredStateOfWorld desired, List<ActualStateOfWorld.VolumeView> actual,
                         java.util.Map<OperationKey, OperationExecutor.Failure> failures, java.util.Map<String, String> limited) {}

  /** @param maxVolumes a driver's max_volumes_per_node from NodeGetInfo; 0 means no limit */
  public Reconciler(Vertx vertx, Context context, ActualStateOfWorld asw, OperationExecutor executor,
                    VolumeOperations operations, Duration resyncInterval, java.util.function.ToLongFunction<String> maxVolumes) {
    this.vertx = vertx;
    this.maxVolumes = maxVolumes;
    this.context = context;
    this.asw = asw;
    this.executor = executor;
    this.operations = operations;
    this.resyncInterval = resyncInterval;
  }

  public void start() {
    context.runOnContext(v -> {
      resyncTimer = vertx.setPeriodic(resyncInterval.toMillis(), t -> resync());
      trigger();
    });
  }

  public void stop() {
    context.runOnContext(v -> {
      vertx.cancelTimer(resyncTimer);
      vertx.cancelTimer(retryTimer);
    });
  }

  /** Hands the reconciler a new desired state; work starts at once. */
  public void update(DesiredStateOfWorld desired) {
    context.runOnContext(v -> {
      dsw = desired;
      desiredPopulated = true;
      trigger();
    });
  }

  public Snapshot snapshot() {
    return snapshot;
  }

  /** Runs one pass on the context; completes after the pass (not after the operations it started). */
  public Future<Void> reconcileNow() {
    Promise<Void> p = Promise.promise();
    context.runOnContext(v -> {
      reconcile();
      p.complete();
    });
    return p.future();
  }

  private void trigger() {
    if (!passScheduled) {
      passScheduled = true;
      context.runOnContext(v -> {
        passScheduled = false;
        reconcile();
      });
    }
  }

  private void reconcile() {
    if (desiredPopulated) {
      unmountVolumes();
    }
    mountVolumes();
    if (desiredPopulated) {
      unmountDevices();
    }
    scheduleRetry();
    publishSnapshot();
  }

  private void unmountVolumes() {
    for (AttachedVolume v : asw.volumes()) {
      for (MountedPod pod : List.copyOf(v.pods.values())) {
        if (!dsw.podNeeds(v.spec.uniqueName(), pod.podUid())) {
          OperationKey key = new OperationKey(v.spec.uniqueName(), pod.podUid());
          executor.tryRun(key, "volume_unmount", plugin(v.spec.driver()), () -> operations.unmount(v, pod), this::operationDone);
        }
      }
    }
  }

  private void mountVolumes() {
    // max_volumes_per_node: volumes already on the node count first; a new one beyond the limit is not attempted.
    java.util.Map<String, Long> used = new java.util.HashMap<>();
    for (AttachedVolume v : asw.volumes()) {
      if (v.mayHoldAnything()) {
        used.merge(v.spec.driver(), 1L, Long::sum);
      }
    }
    java.util.Map<String, String> nowLimited = new java.util.HashMap<>();
    for (DesiredVolume dv : dsw.volumes().values()) {
      String driver = dv.spec().driver();
      AttachedVolume present = asw.get(dv.spec().uniqueName());
      if (present == null || !present.mayHoldAnything()) {
        long max = maxVolumes.applyAsLong(driver);
        long inUse = used.getOrDefault(driver, 0L);
        if (max > 0 && inUse >= max) {
          nowLimited.put(dv.spec().uniqueName(), "not attempted: driver " + driver + " allows at most " + max
              + " volumes on this node (max_volumes_per_node) and " + inUse + " are in use");
          continue;
        }
        used.put(driver, inUse + 1);
      }
      for (PodToMount pod : dv.pods().values()) {
        if (asw.podState(dv.spec().uniqueName(), pod.podUid()) == MountState.MOUNTED) {
          continue;
        }
        // One mount operation at a time per PV-backed volume (stage happens once); inline volumes are per pod.
        OperationKey key = dv.spec().inline() ? new OperationKey(dv.spec().uniqueName(), pod.podUid())
            : OperationKey.volume(dv.spec().uniqueName());
        executor.tryRun(key, "volume_mount", plugin(dv.spec().driver()), () -> operations.mount(dv.spec(), pod), this::operationDone);
      }
    }
    if (!nowLimited.equals(limited)) {
      nowLimited.keySet().stream().filter(k -> !limited.containsKey(k)).forEach(k -> LOG.warn("volume {} {}", k, nowLimited.get(k)));
      limited = java.util.Map.copyOf(nowLimited);
    }
  }

  private void unmountDevices() {
    for (AttachedVolume v : asw.volumes()) {
      if (!v.pods.isEmpty() || dsw.volume(v.spec.uniqueName()).isPresent()) {
        continue;
      }
      OperationKey key = OperationKey.volume(v.spec.uniqueName());
      if (!v.mayHoldAnything()) {
        asw.remove(v.spec.uniqueName());
        executor.forget(key);
        continue;
      }
      executor.tryRun(key, "unmount_device", plugin(v.spec.driver()), () -> operations.unmountDevice(v), this::operationDone);
    }
  }

  /** The kubelet's metric label for a CSI driver. */
  static String plugin(String driver) {
    return "kubernetes.io/csi:" + driver;
  }

  private void operationDone() {
    trigger();
  }

  /** Wakes up when the earliest backoff ends, so retries do not wait for the resync. */
  private void scheduleRetry() {
    long next = executor.nextRetryAtMillis();
    if (next == 0 || (retryTimer >= 0 && retryAt <= next)) {
      return;
    }
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer);
    }
    retryAt = next;
    retryTimer = vertx.setTimer(Math.max(1, next - System.currentTimeMillis()), t -> {
      retryTimer = -1;
      trigger();
    });
  }

  /**
   * Drift: a publish mount recorded as mounted but gone from the host is marked uncertain and published again.
   * Volumes with an operation in flight are left alone: an unpublish in progress is not drift.
   */
  private void resync() {
    for (AttachedVolume v : asw.volumes()) {
      if (executor.isRunning(OperationKey.volume(v.spec.uniqueName()))) {
        continue;
      }
      for (MountedPod pod : List.copyOf(v.pods.values())) {
        if (executor.isRunning(new OperationKey(v.spec.uniqueName(), pod.podUid()))) {
          continue;
        }
        if (pod.state() == MountState.MOUNTED && !v.spec.block() && !mounter.isMountPoint(Path.of(pod.targetPath()))) {
          LOG.warn("publish mount of volume {} for pod {} at {} vanished; publishing it again", v.spec.specName(),
              pod.podKey(), pod.targetPath());
          v.pods.put(pod.podUid(), new MountedPod(pod.podUid(), pod.podKey(), MountState.UNCERTAIN, pod.targetPath()));
        }
      }
    }
    trigger();
  }

  private void publishSnapshot() {
    java.util.Map<OperationKey, OperationExecutor.Failure> failures = new java.util.HashMap<>();
    for (DesiredVolume dv : dsw.volumes().values()) {
      executor.lastFailure(OperationKey.volume(dv.spec().uniqueName())).ifPresent(f -> failures.put(OperationKey.volume(dv.spec().uniqueName()), f));
      for (PodToMount p : dv.pods().values()) {
        OperationKey k = new OperationKey(dv.spec().uniqueName(), p.podUid());
        executor.lastFailure(k).ifPresent(f -> failures.put(k, f));
      }
    }
    for (AttachedVolume v : asw.volumes()) {
      OperationKey k = OperationKey.volume(v.spec.uniqueName());
      executor.lastFailure(k).ifPresent(f -> failures.put(k, f));
      for (MountedPod p : v.pods.values()) {
        OperationKey pk = new OperationKey(v.spec.uniqueName(), p.podUid());
        executor.lastFailure(pk).ifPresent(f -> failures.put(pk, f));
      }
    }
    snapshot = new Snapshot(dsw, asw.snapshot(), java.util.Map.copyOf(failures), limited);
  }
}
