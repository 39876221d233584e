package dev.csinode.agent.housekeeping;

import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes pod directories by {@link OrphanedPodDirectories#remove}'s rules (only what the agent made; every directory
 * is checked again for a mount point just before it goes), off the event loop. A pod whose directory is to be removed
 * is {@link #reserve reserved} first: the reconciler starts no mount for it until the removal is over. Used on the
 * reconciler's context.
 */
public final class PodDirectoryRemoval {
  private static final Logger LOG = LoggerFactory.getLogger(PodDirectoryRemoval.class);

  private final Vertx vertx;
  private final KubeletLayout layout;
  private final MountPoints mounts;
  private final Runnable removed;
  /** Pods whose directory is being removed, by UID. */
  private final Set<String> cleaning = new HashSet<>();

  /** {@code removed} runs on the context after each removal, reserved pods released: their mounts may start. */
  public PodDirectoryRemoval(Vertx vertx, KubeletLayout layout, MountPoints mounts, Runnable removed) {
    this.vertx = vertx;
    this.layout = layout;
    this.mounts = mounts;
    this.removed = removed;
  }

  /** Whether the pod's directory is being removed: no mount may start for it. */
  public boolean isCleaning(String podUid) {
    return cleaning.contains(podUid);
  }

  /** From now on no mount starts for these pods, until {@link #remove} is done with them. */
  public void reserve(List<Orphan> orphans) {
    orphans.forEach(o -> cleaning.add(o.podUid()));
  }

  /**
   * Removes these reserved pod directories (one already gone is left alone); completes with what was done with each,
   * by pod UID, and releases them.
   */
  public Future<Map<String, Orphan>> remove(List<Orphan> reserved) {
    return vertx.executeBlocking(() -> {
      Map<String, Orphan> done = new HashMap<>();
      for (Orphan o : reserved) {
        if (!Files.isDirectory(Path.of(o.path()), LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        Orphan r = OrphanedPodDirectories.remove(layout, o, mounts::isMountPoint);
        if (r.action() == HousekeepingAction.REMOVED) {
          LOG.info("removed orphaned pod directory {} ({})", r.path(), r.reason());
        } else {
          LOG.warn("orphaned pod directory {} kept: {}", r.path(), r.reason());
        }
        done.put(o.podUid(), r);
      }
      return done;
    }, false).onComplete(x -> {
      reserved.forEach(o -> cleaning.remove(o.podUid()));
      removed.run();
    });
  }
}
