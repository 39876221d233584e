package dev.csinode.agent.reconciler;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.housekeeping.Housekeeper;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.operationexecutor.VolumeOperations;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives the actual state of world towards the desired one, in the kubelet's order: unmount pods that no
 * longer need a volume, then attach/stage/publish what is missing, then unstage/detach volumes no pod uses.
 * Event driven: a new desired state or a finished operation starts a pass at once (coalesced); a periodic
 * resync runs the {@link Housekeeper} (drift, such as a publish mount that vanished, which is published again;
 * unmanaged mounts; orphaned pod directories).
 *
 * <p>All state is owned by one Vert.x context.
 */
public final class Reconciler {
  private static final Logger LOG = LoggerFactory.getLogger(Reconciler.class);
  /** The shortest gap between two passes: see {@link #trigger()}. */
  private static final long MIN_PASS_GAP_NANOS = 2_000_000;

  /**
   * What status readers see: the desired state, the actual state, the last failure per operation key, the keys
   * with an operation running, volumes held back by max_volumes_per_node, and what the last housekeeping pass found
   * (mounts the agent does not manage, orphaned pod directories).
   */
  public record Snapshot(DesiredStateOfWorld desired, Map<String, VolumeView> actualByName,
                         Map<OperationKey, OperationExecutor.Failure> failures, Set<OperationKey> running,
                         Map<String, String> limited,
                         List<String> unmanagedMounts, List<Orphan> orphans) {
    /** The actual state's volumes, in the order they appeared. */
    public Collection<VolumeView> actual() {
      return actualByName.values();
    }
  }

  private final Vertx vertx;
  private final Context context;
  private final ActualStateOfWorld asw;
  private final OperationExecutor executor;
  private final VolumeOperations operations;
  private Duration resyncInterval;
  private final ToLongFunction<String> maxVolumes;
  private final boolean removeOrphans;
  private final Housekeeper housekeeper;
  private Map<String, String> limited = Map.of();
  private DesiredStateOfWorld dsw = DesiredStateOfWorld.EMPTY;
  /**
   * False until the pod sources delivered a desired state: before that an empty desired state means "not known
   * yet", not "nothing wanted", so nothing reconstructed is torn down (the kubelet's readyToUnmount).
   */
  private boolean desiredPopulated;
  /** Completed by the first snapshot built from a desired state the sources populated. */
  private final Promise<Void> populatedSnapshot = Promise.promise();
  private boolean passScheduled;
  private boolean stopped;
  private long lastPassEnd;
  private long resyncTimer = -1;
  private long retryTimer = -1;
  private long retryAt;
  /** Pods with a mount operation running, by UID: their directories are being made, never orphans. */
  private final Map<String, Integer> mountsInFlight = new HashMap<>();
  /** Pods (uid to namespace/name) that had a volume unpublished since the last pass. */
  private final Map<String, String> podsUnmounted = new HashMap<>();
  private Runnable snapshotListener = () -> { };
  private volatile Snapshot snapshot = new Snapshot(DesiredStateOfWorld.EMPTY, Map.of(), Map.of(), Set.of(), Map.of(), List.of(),
      List.of());

  /**
   * @param maxVolumes a driver's max_volumes_per_node from NodeGetInfo; 0 means no limit
   * @param removeOrphans whether housekeeping removes orphaned pod directories or only reports them
   * @param mounts where housekeeping looks for drift, unmanaged mounts and mount points before removing a directory
   */
  public Reconciler(Vertx vertx, Context context, KubeletLayout layout, ActualStateOfWorld asw, OperationExecutor executor,
                    VolumeOperations operations, Duration resyncInterval, ToLongFunction<String> maxVolumes,
                    boolean removeOrphans, MountPoints mounts) {
    this.vertx = vertx;
    this.removeOrphans = removeOrphans;
    this.maxVolumes = maxVolumes;
    this.context = context;
    this.asw = asw;
    this.executor = executor;
    this.operations = operations;
    this.resyncInterval = resyncInterval;
    this.housekeeper = new Housekeeper(vertx, layout, asw, executor, mounts, this::podsInUse, this::trigger);
  }

  public void start() {
    context.runOnContext(v -> {
      resyncTimer = vertx.setPeriodic(resyncInterval.toMillis(), t -> resync());
      trigger();
    });
  }

  /** A new resync period (a reload): the next resync comes one new period from now. */
  public void resyncInterval(Duration interval) {
    context.runOnContext(v -> {
      resyncInterval = interval;
      if (!stopped && resyncTimer != -1) {
        vertx.cancelTimer(resyncTimer);
        resyncTimer = vertx.setPeriodic(interval.toMillis(), t -> resync());
      }
    });
  }

  /**
   * No more passes; completes once a housekeeping pass in flight is over, since it reads (and may remove)
   * directories under the root: when the agent has stopped, nothing of it holds the root any more.
   */
  public Future<Void> stop() {
    Promise<Void> stoppedNow = Promise.promise();
    context.runOnContext(v -> {
      stopped = true;
      vertx.cancelTimer(resyncTimer);
      vertx.cancelTimer(retryTimer);
      housekeeper.idle().onComplete(stoppedNow);
    });
    return stoppedNow.future();
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

  /** Runs on the reconciler's context after each new snapshot (set before {@link #start()}). */
  public void onSnapshot(Runnable listener) {
    this.snapshotListener = listener;
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

  /**
   * A pass at once, or, when the last one ended less than {@link #MIN_PASS_GAP_NANOS} ago, right after that gap:
   * under load (hundreds of operations finishing per second) one pass serves many of them, and a pass is
   * O(volumes).
   */
  private void trigger() {
    if (!passScheduled) {
      passScheduled = true;
      long wait = lastPassEnd + MIN_PASS_GAP_NANOS - System.nanoTime();
      if (wait <= 0) {
        context.runOnContext(v -> pass());
      } else {
        vertx.setTimer(Math.max(1, wait / 1_000_000), t -> pass());
      }
    }
  }

  private void pass() {
    passScheduled = false;
    reconcile();
    lastPassEnd = System.nanoTime();
  }

  private void reconcile() {
    if (desiredPopulated) {
      unmountVolumes();
    }
    mountVolumes();
    if (desiredPopulated) {
      unmountDevices();
      removeDirectoriesOfGonePods();
      // A pod that went before its volume was ever mounted leaves a failure nobody will look at again.
      executor.retainFailures(k -> k.podUid().isEmpty()
          ? dsw.volume(k.volume()).isPresent() || asw.get(k.volume()) != null
          : dsw.podNeeds(k.volume(), k.podUid()) || asw.podState(k.volume(), k.podUid()) != null);
    }
    scheduleRetry();
    publishSnapshot();
    if (desiredPopulated) {
      populatedSnapshot.tryComplete();
    }
  }

  /**
   * Completes once a snapshot reflects the pod sources (the desired state they populated): from then on, what the
   * status shows is what the sources asked for, not the empty start.
   */
  public Future<Void> populated() {
    return populatedSnapshot.future();
  }

  private void unmountVolumes() {
    // Collected first, started after the loop: an operation may change the actual state it iterates.
    List<Runnable> unmounts = null;
    for (AttachedVolume v : asw.volumesInPlace()) {
      if (v.pods.isEmpty()) {
        continue;
      }
      DesiredVolume desired = dsw.volumes().get(v.spec.uniqueName());
      for (MountedPod pod : v.pods.values()) {
        PodToMount wanted = desired == null ? null : desired.pods().get(pod.podUid());
        // Also when another pod now has the uid (the one that had it is gone): it gets volumes of its own.
        if (wanted == null || !pod.of(wanted.podKey())) {
          (unmounts == null ? unmounts = new ArrayList<>() : unmounts).add(() -> unmount(v, pod));
        }
      }
    }
    if (unmounts != null) {
      unmounts.forEach(Runnable::run);
    }
  }

  private void unmount(AttachedVolume v, MountedPod pod) {
    OperationKey key = new OperationKey(v.spec.uniqueName(), pod.podUid());
    executor.tryRun(key, "volume_unmount", KubeletLayout.pluginName(v.spec.driver()), () -> operations.unmount(v, pod), () -> {
      podsUnmounted.put(pod.podUid(), pod.podKey());
      operationDone();
    });
  }

  /** The directories of pods whose last volume was just torn down and that no pod source wants any more: see {@link Housekeeper#removeGonePods}. */
  private void removeDirectoriesOfGonePods() {
    if (podsUnmounted.isEmpty() || stopped) {
      return;
    }
    if (removeOrphans) {
      housekeeper.removeGonePods(Map.copyOf(podsUnmounted));
    }
    podsUnmounted.clear();
  }

  private void mountVolumes() {
    // max_volumes_per_node: volumes already on the node count first; a new one beyond the limit is not attempted.
    // Counted when a driver with a limit has a new volume, not for every volume in every pass: most drivers have none.
    Map<String, Long> used = new HashMap<>();
    Map<String, String> nowLimited = new HashMap<>();
    for (DesiredVolume dv : dsw.volumes().values()) {
      String driver = dv.spec().driver();
      AttachedVolume present = asw.get(dv.spec().uniqueName());
      if (present == null || !present.mayHoldAnything()) {
        long max = maxVolumes.applyAsLong(driver);
        if (max > 0) {
          long inUse = used.computeIfAbsent(driver, this::volumesHeldBy);
          if (inUse >= max) {
            nowLimited.put(dv.spec().uniqueName(), "not attempted: driver " + driver + " allows at most " + max
                + " volumes on this node (max_volumes_per_node) and " + inUse + " are in use");
            continue;
          }
          used.put(driver, inUse + 1);
        }
      }
      // forEach, not an iterator: this runs for every volume in every pass, and the iterator was not optimised away.
      dv.pods().forEach((uid, pod) -> mountPod(dv, present, pod));
    }
    if (!nowLimited.equals(limited)) {
      nowLimited.keySet().stream().filter(k -> !limited.containsKey(k)).forEach(k -> LOG.warn("volume {} {}", k, nowLimited.get(k)));
      limited = Map.copyOf(nowLimited);
    }
  }

  /** How many volumes of the driver may hold anything on the node. */
  private long volumesHeldBy(String driver) {
    long n = 0;
    for (AttachedVolume v : asw.volumesInPlace()) {
      if (v.mayHoldAnything() && v.spec.driver().equals(driver)) {
        n++;
      }
    }
    return n;
  }

  /** Publishes the volume for the pod unless it is, or cannot be now. */
  private void mountPod(DesiredVolume dv, AttachedVolume present, PodToMount pod) {
    if (asw.podState(dv.spec().uniqueName(), pod.podUid()) == MountState.MOUNTED || housekeeper.isCleaning(pod.podUid())) {
      return;
    }
    MountedPod earlier = present == null ? null : present.pods.get(pod.podUid());
    if (earlier != null && !earlier.of(pod.podKey())) {
      return; // the pod that had this uid before is still mounted here: torn down first
    }
    // One mount operation at a time per PV-backed volume (stage happens once); inline volumes are per pod.
    OperationKey key = dv.spec().inline() ? new OperationKey(dv.spec().uniqueName(), pod.podUid())
        : OperationKey.volume(dv.spec().uniqueName());
    if (!executor.mayStart(key, "volume_mount")) {
      return; // running, in backoff, or no room: asked again at the next pass
    }
    String uid = pod.podUid();
    mountsInFlight.merge(uid, 1, Integer::sum); // before: a mount that fails at once completes inside tryRun
    if (!executor.tryRun(key, "volume_mount", KubeletLayout.pluginName(dv.spec().driver()), () -> operations.mount(dv.spec(), pod), () -> {
      mountEnded(uid);
      operationDone();
    })) {
      mountEnded(uid);
    }
  }

  private void unmountDevices() {
    // Collected first: forgetting a volume changes the actual state the loop iterates.
    List<AttachedVolume> unused = null;
    for (AttachedVolume v : asw.volumesInPlace()) {
      if (v.pods.isEmpty() && !dsw.volumes().containsKey(v.spec.uniqueName())) {
        (unused == null ? unused = new ArrayList<>() : unused).add(v);
      }
    }
    if (unused == null) {
      return;
    }
    for (AttachedVolume v : unused) {
      OperationKey key = OperationKey.volume(v.spec.uniqueName());
      if (!v.mayHoldAnything()) {
        asw.remove(v.spec.uniqueName());
        executor.forget(key);
        continue;
      }
      executor.tryRun(key, "unmount_device", KubeletLayout.pluginName(v.spec.driver()), () -> operations.unmountDevice(v), this::operationDone);
    }
  }

  private void mountEnded(String uid) {
    mountsInFlight.computeIfPresent(uid, (k, n) -> n == 1 ? null : n - 1);
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

  /** The periodic pass: housekeeping (skipped while the previous one still runs) and a reconcile pass. */
  private void resync() {
    if (!housekeeper.busy()) {
      housekeep(removeOrphans);
    }
    trigger();
  }

  /**
   * One housekeeping pass, after those already running (see {@link Housekeeper#pass}), then a reconcile pass; when
   * {@code remove}, orphaned pod directories are removed. Completes with the orphans (what was or would be done with each). Fails until the pod
   * sources have delivered: before that every pod directory would look orphaned.
   */
  public Future<List<Orphan>> housekeep(boolean remove) {
    Promise<List<Orphan>> result = Promise.promise();
    context.runOnContext(v -> {
      if (!desiredPopulated) {
        result.fail("the pod sources have not delivered their pods yet; try again in a moment");
        return;
      }
      if (stopped) {
        result.fail("the agent is stopping");
        return;
      }
      housekeeper.pass(remove).onComplete(ar -> {
        if (ar.succeeded()) {
          publishSnapshot();
          trigger(); // a publish mount found gone is published again now, not at the next resync
        }
        result.handle(ar);
      });
    });
    return result.future();
  }

  /** Pod UIDs that are wanted or may hold something, of those {@code among} accepts: their directories are never orphans. */
  private Set<String> podsInUse(Predicate<String> among) {
    Set<String> uids = new HashSet<>();
    mountsInFlight.keySet().forEach(uid -> addIf(uids, uid, among));
    dsw.pods().values().forEach(p -> addIf(uids, p.podUid(), among));
    for (AttachedVolume v : asw.volumesInPlace()) {
      v.pods.keySet().forEach(uid -> addIf(uids, uid, among));
    }
    return uids;
  }

  private static void addIf(Set<String> uids, String uid, Predicate<String> among) {
    if (among.test(uid)) {
      uids.add(uid);
    }
  }

  /** O(volumes) per pass, nothing more: it runs after every operation. */
  private void publishSnapshot() {
    snapshot = new Snapshot(dsw, asw.snapshot(), executor.failures(), executor.running(), limited, housekeeper.unmanagedMounts(),
        housekeeper.orphans());
    snapshotListener.run();
  }
}
