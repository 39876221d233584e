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
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.housekeeping.UnmanagedMounts;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.RootDir;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
  private final KubeletLayout layout;
  private final boolean removeOrphans;
  /** Pods with a mount operation running, by UID: their directories are being made, never orphans. */
  private final java.util.Map<String, Integer> mountsInFlight = new java.util.HashMap<>();
  /** Pods whose orphaned directory is being removed: no mount starts for them until it is done. */
  private final Set<String> cleaning = new HashSet<>();
  /** Pods (uid to namespace/name) that had a volume unpublished since the last pass. */
  private final java.util.Map<String, String> podsUnmounted = new java.util.HashMap<>();
  private Future<List<Orphan>> housekeeping = Future.succeededFuture(List.of());
  private List<String> unmanagedMounts = List.of();
  /** Mounts the last housekeeping pass found unmanaged; reported once the next one finds them too. */
  private Set<String> unmanagedSuspects = Set.of();
  private List<Orphan> orphans = List.of();
  private volatile Snapshot snapshot = new Snapshot(DesiredStateOfWorld.EMPTY, java.util.Map.of(), java.util.Map.of(),
      Set.of(), java.util.Map.of(), List.of(), List.of());

  /**
   * What status readers see: the desired state, the actual state, the last failure per operation key, the keys
   * with an operation running, volumes held back by max_volumes_per_node, and what the last housekeeping pass found
   * (mounts the agent does not manage, orphaned pod directories).
   */
  public record Snapshot(DesiredStateOfWorld desired, java.util.Map<String, ActualStateOfWorld.VolumeView> actualByName,
                         java.util.Map<OperationKey, OperationExecutor.Failure> failures, Set<OperationKey> running,
                         java.util.Map<String, String> limited,
                         List<String> unmanagedMounts, List<Orphan> orphans) {
    /** The actual state's volumes, in the order they appeared. */
    public java.util.Collection<ActualStateOfWorld.VolumeView> actual() {
      return actualByName.values();
    }
  }

  /**
   * @param maxVolumes a driver's max_volumes_per_node from NodeGetInfo; 0 means no limit
   * @param removeOrphans whether housekeeping removes orphaned pod directories or only reports them
   */
  public Reconciler(Vertx vertx, Context context, KubeletLayout layout, ActualStateOfWorld asw, OperationExecutor executor,
                    VolumeOperations operations, Duration resyncInterval, java.util.function.ToLongFunction<String> maxVolumes,
                    boolean removeOrphans) {
    this.vertx = vertx;
    this.layout = layout;
    this.removeOrphans = removeOrphans;
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
      housekeeping.onComplete(ar -> stoppedNow.complete());
    });
    return stoppedNow.future();
  }

  private boolean stopped;

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

  private Runnable snapshotListener = () -> { };

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

  private static final long MIN_PASS_GAP_NANOS = 2_000_000;
  private long lastPassEnd;

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
  }

  private void unmountVolumes() {
    for (AttachedVolume v : asw.volumes()) {
      for (MountedPod pod : List.copyOf(v.pods.values())) {
        DesiredVolume desired = dsw.volumes().get(v.spec.uniqueName());
        PodToMount wanted = desired == null ? null : desired.pods().get(pod.podUid());
        // Also when another pod now has the uid (the one that had it is gone): it gets volumes of its own.
        if (wanted == null || !pod.of(wanted.podKey())) {
          OperationKey key = new OperationKey(v.spec.uniqueName(), pod.podUid());
          executor.tryRun(key, "volume_unmount", plugin(v.spec.driver()), () -> operations.unmount(v, pod), () -> {
            podsUnmounted.put(pod.podUid(), pod.podKey());
            operationDone();
          });
        }
      }
    }
  }

  /**
   * The directories of pods whose last volume was just torn down and that no pod source wants any more, removed
   * now rather than by the next housekeeping pass: a churn of 100 pods/s otherwise left ~1,000 directories to
   * remove at once every resync, a burst that held up the pods being set up meanwhile. Same rules as the
   * housekeeping's: only what the agent made, never a mount point; what is kept is reported by the next pass.
   */
  private void removeDirectoriesOfGonePods() {
    if (podsUnmounted.isEmpty() || !removeOrphans || stopped) {
      return;
    }
    Set<String> inUse = podsInUse(); // a pod still holding another volume comes back here after its last unmount
    List<Orphan> gone = new java.util.ArrayList<>();
    podsUnmounted.forEach((uid, podKey) -> {
      if (!inUse.contains(uid) && !cleaning.contains(uid)) {
        gone.add(new Orphan(uid, layout.podDir(uid).toString(), "remove", "pod " + podKey + " is gone and its volumes are torn down"));
      }
    });
    podsUnmounted.clear();
    if (gone.isEmpty()) {
      return;
    }
    cleaning.addAll(gone.stream().map(Orphan::podUid).toList()); // now: no mount starts for them until removed
    housekeeping = housekeeping.transform(ar -> removePodDirectories(gone).map(done -> orphans));
  }

  /**
   * Removes these pod directories off the event loop, by {@link OrphanedPodDirectories#remove}'s rules (only what
   * the agent made, never a mount point; a directory already gone is left alone). Their pods must be in
   * {@link #cleaning} already, so that no mount starts for them; they leave it when this is done. Completes with
   * what was done with each, by pod UID.
   */
  private Future<java.util.Map<String, Orphan>> removePodDirectories(List<Orphan> removable) {
    return vertx.executeBlocking(() -> {
      java.util.Map<String, Orphan> done = new java.util.HashMap<>();
      for (Orphan o : removable) {
        if (!Files.isDirectory(Path.of(o.path()), LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        Orphan r = OrphanedPodDirectories.remove(layout, o, mounter::isMountPoint);
        if (r.action().equals("removed")) {
          LOG.info("removed orphaned pod directory {} ({})", r.path(), r.reason());
        } else {
          LOG.warn("orphaned pod directory {} kept: {}", r.path(), r.reason());
        }
        done.put(o.podUid(), r);
      }
      return done;
    }, false).onComplete(x -> {
      removable.forEach(o -> cleaning.remove(o.podUid()));
      trigger();
    });
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
        if (asw.podState(dv.spec().uniqueName(), pod.podUid()) == MountState.MOUNTED || cleaning.contains(pod.podUid())) {
          continue;
        }
        MountedPod earlier = present == null ? null : present.pods.get(pod.podUid());
        if (earlier != null && !earlier.of(pod.podKey())) {
          continue; // the pod that had this uid before is still mounted here: torn down first
        }
        // One mount operation at a time per PV-backed volume (stage happens once); inline volumes are per pod.
        OperationKey key = dv.spec().inline() ? new OperationKey(dv.spec().uniqueName(), pod.podUid())
            : OperationKey.volume(dv.spec().uniqueName());
        String uid = pod.podUid();
        mountsInFlight.merge(uid, 1, Integer::sum); // before: a mount that fails at once completes inside tryRun
        if (!executor.tryRun(key, "volume_mount", plugin(dv.spec().driver()), () -> operations.mount(dv.spec(), pod), () -> {
          mountEnded(uid);
          operationDone();
        })) {
          mountEnded(uid);
        }
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

  private void mountEnded(String uid) {
    mountsInFlight.computeIfPresent(uid, (k, n) -> n == 1 ? null : n - 1);
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

  /** The periodic pass: drift, unmanaged mounts and orphans; skipped while the previous one still runs. */
  private void resync() {
    if (housekeeping.isComplete()) {
      housekeep(removeOrphans);
    }
    trigger();
  }

  /**
   * One housekeeping pass, after those already running: a publish mount recorded as mounted but gone from the
   * host is marked uncertain and published again; mounts in the agent's directories that it does not know are
   * reported; orphaned pod directories are found and, when {@code remove}, removed. Completes with the orphans
   * (what was or would be done with each). Fails until the pod sources have delivered: before that every pod
   * directory would look orphaned.
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
      housekeeping = housekeeping.transform(ar -> pass(remove));
      housekeeping.onComplete(result);
    });
    return result.future();
  }

  private record Published(String uniqueName, MountedPod pod, boolean block) {}

  /** A publish mount that is gone, with what is at its path instead when that is not the agent's (null: nothing or its directory). */
  private record Vanished(Published published, String foreign) {}

  private record Findings(List<Vanished> vanished, List<String> unmanaged, List<Orphan> orphans) {}

  private Future<List<Orphan>> pass(boolean remove) {
    Set<String> known = podsInUse();
    Set<String> paths = managedPaths();
    List<Published> toCheck = new java.util.ArrayList<>();
    for (AttachedVolume v : asw.volumes()) {
      boolean busy = executor.isRunning(OperationKey.volume(v.spec.uniqueName()));
      for (MountedPod pod : v.pods.values()) {
        // An operation in flight is not drift: an unpublish in progress removes the mount on purpose.
        if (!busy && pod.state() == MountState.MOUNTED
            && !executor.isRunning(new OperationKey(v.spec.uniqueName(), pod.podUid()))) {
          toCheck.add(new Published(v.spec.uniqueName(), pod, v.spec.block()));
        }
      }
    }
    return vertx.executeBlocking(() -> {
      List<Vanished> vanished = toCheck.stream().map(this::vanished).filter(java.util.Objects::nonNull).toList();
      MountTable table = MountTable.read();
      return new Findings(vanished, UnmanagedMounts.find(layout, table, paths), OrphanedPodDirectories.find(layout, known, table));
    }, false).compose(found -> {
      for (Vanished gone : found.vanished()) {
        Published p = gone.published();
        AttachedVolume v = asw.get(p.uniqueName());
        if (v != null && p.pod().equals(v.pods.get(p.pod().podUid()))
            && !executor.isRunning(new OperationKey(p.uniqueName(), p.pod().podUid()))
            && !executor.isRunning(OperationKey.volume(p.uniqueName()))) {
          if (gone.foreign() == null) {
            LOG.warn("publish mount of volume {} for pod {} at {} vanished; publishing it again", v.spec.specName(),
                p.pod().podKey(), p.pod().targetPath());
          } else {
            // Not mounted again there: the publish operation refuses the path, and its error is the volume's status.
            LOG.warn("publish mount of volume {} for pod {} at {} vanished and {}: not the agent's; not mounting there "
                + "again (see the volume's status)", v.spec.specName(), p.pod().podKey(), p.pod().targetPath(), gone.foreign());
          }
          v.pods.put(p.pod().podUid(), new MountedPod(p.pod().podUid(), p.pod().podKey(), MountState.UNCERTAIN, p.pod().targetPath()));
        }
      }
      // The mount table was read while operations ran: a mount made (or removed) meanwhile can be in the table
      // and not in the paths known before. Known now is better; only what two passes in a row find unmanaged is.
      Set<String> managedNow = managedPaths();
      List<String> suspects = found.unmanaged().stream().filter(m -> !managedNow.contains(m)).toList();
      List<String> confirmed = suspects.stream().filter(unmanagedSuspects::contains).toList();
      unmanagedSuspects = Set.copyOf(suspects);
      confirmed.stream().filter(m -> !unmanagedMounts.contains(m)).forEach(m ->
          LOG.warn("{} is mounted where the agent keeps volumes, but the agent did not mount it: reported, left alone", m));
      unmanagedMounts = confirmed;
      if (!remove) {
        return Future.succeededFuture(found.orphans());
      }
      Set<String> inUse = podsInUse(); // pods may have come while the disk was read
      List<Orphan> removable = found.orphans().stream()
          .filter(o -> o.action().equals("remove") && !inUse.contains(o.podUid())).toList();
      removable.forEach(o -> cleaning.add(o.podUid()));
      return removePodDirectories(removable)
          .map(done -> found.orphans().stream().map(o -> done.getOrDefault(o.podUid(), o)).toList());
    }).map(result -> {
      orphans = List.copyOf(result);
      publishSnapshot();
      return result;
    });
  }

  /**
   * A published volume whose mount is gone, with what is at its path when that is not the agent's: a link (there or
   * above), for a filesystem volume a file or a device, for a block volume a directory (null when it is what the
   * agent makes there, or nothing, which publishing again may use). Null while it is mounted, and for a block volume
   * whose path holds a device node: how a driver may publish one without a mount (mknod), so nothing vanished.
   * The path's kind is read once.
   */
  private Vanished vanished(Published p) {
    Path target = Path.of(p.pod().targetPath());
    if (mounter.isMountPoint(target)) {
      return null;
    }
    RootDir.Kind kind;
    try {
      kind = layout.rootDir().kind(target);
    } catch (java.nio.file.FileSystemException e) {
      return new Vanished(p, e.getFile() + " " + (e.getReason() == null ? "is not a directory" : e.getReason()));
    } catch (java.io.IOException e) {
      return new Vanished(p, "it cannot be checked: " + e.getMessage());
    }
    if (p.block() && kind == RootDir.Kind.OTHER) {
      return null;
    }
    boolean agents = kind == RootDir.Kind.MISSING || (p.block() ? kind != RootDir.Kind.DIRECTORY : kind == RootDir.Kind.DIRECTORY);
    return new Vanished(p, agents ? null : "a " + kind.name().toLowerCase() + " is there");
  }

  /** Staging and publish paths of every volume the agent holds or may hold. */
  private Set<String> managedPaths() {
    Set<String> paths = new HashSet<>();
    for (AttachedVolume v : asw.volumes()) {
      if (v.stagingPath != null) {
        paths.add(v.stagingPath);
      }
      v.pods.values().forEach(pod -> paths.add(pod.targetPath()));
    }
    return paths;
  }

  /** Pod UIDs that are wanted or may hold something: their directories are never orphans. */
  private Set<String> podsInUse() {
    Set<String> uids = new HashSet<>(mountsInFlight.keySet());
    dsw.pods().values().forEach(p -> uids.add(p.podUid()));
    for (AttachedVolume v : asw.volumes()) {
      uids.addAll(v.pods.keySet());
    }
    return uids;
  }

  /** O(volumes) per pass, nothing more: it runs after every operation. */
  private void publishSnapshot() {
    snapshot = new Snapshot(dsw, asw.snapshot(), executor.failures(), executor.running(), limited, unmanagedMounts, orphans);
    snapshotListener.run();
  }
}
