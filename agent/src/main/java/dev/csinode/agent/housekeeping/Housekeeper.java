package dev.csinode.agent.housekeeping;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.housekeeping.PublishDrift.Published;
import dev.csinode.agent.housekeeping.PublishDrift.Vanished;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.mount.MountTable;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The reconciler's housekeeping: {@link PublishDrift drift}, {@link UnmanagedMounts unmanaged mounts} and
 * {@link OrphanedPodDirectories orphaned pod directories}, found off the event loop, and the removal of pod
 * directories ({@link PodDirectoryRemoval}). Passes and removals run one after the other: each reads, and may remove,
 * directories under the root. Used on the reconciler's context.
 */
public final class Housekeeper {
  private record Findings(List<Vanished> vanished, List<String> unmanaged, List<Orphan> orphans) {}

  private final Vertx vertx;
  private final KubeletLayout layout;
  private final ActualStateOfWorld asw;
  private final MountPoints mounts;
  private final Function<Predicate<String>, Set<String>> podsInUse;
  private final PublishDrift drift;
  private final UnmanagedMounts unmanaged;
  private final PodDirectoryRemoval removal;
  /** The last pass or removal; the next starts after it. */
  private Future<List<Orphan>> running = Future.succeededFuture(List.of());
  private List<Orphan> orphans = List.of();

  /**
   * @param podsInUse pod UIDs that are wanted or may hold something, of those the predicate accepts: their directories
   *     are never orphans
   * @param removed runs after each removal of pod directories (their pods may be mounted again)
   */
  public Housekeeper(Vertx vertx, KubeletLayout layout, ActualStateOfWorld asw, OperationExecutor executor, MountPoints mounts,
                     Function<Predicate<String>, Set<String>> podsInUse, Runnable removed) {
    this.vertx = vertx;
    this.layout = layout;
    this.asw = asw;
    this.mounts = mounts;
    this.podsInUse = podsInUse;
    this.drift = new PublishDrift(layout, mounts, asw, executor);
    this.unmanaged = new UnmanagedMounts(layout);
    this.removal = new PodDirectoryRemoval(vertx, layout, mounts, removed);
  }

  /** Whether a pass or a removal is running. */
  public boolean busy() {
    return !running.isComplete();
  }

  /** Completes once what runs now is over, whatever its outcome. */
  public Future<Void> idle() {
    return running.transform(ar -> Future.succeededFuture());
  }

  /** Whether the pod's directory is being removed: no mount may start for it. */
  public boolean isCleaning(String podUid) {
    return removal.isCleaning(podUid);
  }

  /** What the last pass reported as mounted in the agent's directories but not made by it. */
  public List<String> unmanagedMounts() {
    return unmanaged.reported();
  }

  /** The orphaned pod directories of the last pass, with what was (or would be) done with each. */
  public List<Orphan> orphans() {
    return orphans;
  }

  /**
   * One pass, after what runs now: a publish mount recorded as mounted but gone from the host is marked uncertain
   * (published again); mounts in the agent's directories that it does not know are reported; orphaned pod
   * directories are found and, when {@code remove}, removed. Completes with the orphans.
   */
  public Future<List<Orphan>> pass(boolean remove) {
    running = running.transform(ar -> runPass(remove));
    return running;
  }

  /**
   * The directories of pods whose last volume was just torn down (UID to namespace/name), removed now rather than by
   * the next pass: a churn of 100 pods/s otherwise left ~1,000 directories to remove at once every resync, a burst that
   * held up the pods being set up meanwhile. Same rules as a pass's: only what the agent made, never a mount point; what
   * is kept is reported by the next pass. A pod still in use (it holds another volume) comes back after its last unmount.
   */
  public void removeGonePods(Map<String, String> unmounted) {
    // Only these pods are looked up: this runs after every unmount, the set of every pod in use is O(pods).
    Set<String> inUse = podsInUse.apply(unmounted::containsKey);
    List<Orphan> gone = new ArrayList<>();
    unmounted.forEach((uid, podKey) -> {
      if (!inUse.contains(uid) && !removal.isCleaning(uid)) {
        gone.add(new Orphan(uid, layout.podDir(uid).toString(), HousekeepingAction.REMOVE,
            "pod " + podKey + " is gone and its volumes are torn down"));
      }
    });
    if (gone.isEmpty()) {
      return;
    }
    removal.reserve(gone); // now: no mount starts for them until removed
    running = running.transform(ar -> removal.remove(gone).map(done -> orphans));
  }

  private Future<List<Orphan>> runPass(boolean remove) {
    Set<String> known = podsInUse.apply(uid -> true);
    Set<String> paths = managedPaths();
    List<Published> toCheck = drift.candidates();
    return vertx.executeBlocking(() -> {
      List<Vanished> vanished = drift.vanished(toCheck);
      MountTable table = mounts.table();
      return new Findings(vanished, unmanaged.find(table, paths), OrphanedPodDirectories.find(layout, known, table));
    }, false).compose(found -> {
      drift.markUncertain(found.vanished());
      unmanaged.confirm(found.unmanaged(), managedPaths());
      if (!remove) {
        return Future.succeededFuture(found.orphans());
      }
      Set<String> inUse = podsInUse.apply(uid -> true); // pods may have come while the disk was read
      List<Orphan> removable = found.orphans().stream()
          .filter(o -> o.action() == HousekeepingAction.REMOVE && !inUse.contains(o.podUid())).toList();
      removal.reserve(removable);
      return removal.remove(removable)
          .map(done -> found.orphans().stream().map(o -> done.getOrDefault(o.podUid(), o)).toList());
    }).map(result -> {
      orphans = List.copyOf(result);
      return orphans;
    });
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
}
