package dev.csinode.agent.housekeeping;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.mount.RootDir;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift: a publish mount the actual state records as mounted but that is gone from the host. Such a pod volume is
 * marked UNCERTAIN, so the reconciler publishes it again (idempotent), unless what is at its path now is not the
 * agent's (a link, a file): then publishing refuses the path and its error is the volume's status.
 * {@link #candidates()} and {@link #markUncertain} run on the reconciler's context, {@link #vanished} off it.
 */
public final class PublishDrift {
  private static final Logger LOG = LoggerFactory.getLogger(PublishDrift.class);

  /** A pod's publish of a volume recorded as mounted. */
  public record Published(String uniqueName, MountedPod pod, boolean block) {}

  /** A publish mount that is gone, with what is at its path instead when that is not the agent's (null: nothing or its own). */
  public record Vanished(Published published, String foreign) {}

  private final KubeletLayout layout;
  private final MountPoints mounts;
  private final ActualStateOfWorld asw;
  private final OperationExecutor executor;

  public PublishDrift(KubeletLayout layout, MountPoints mounts, ActualStateOfWorld asw, OperationExecutor executor) {
    this.layout = layout;
    this.mounts = mounts;
    this.asw = asw;
    this.executor = executor;
  }

  /** The publishes to check: recorded MOUNTED, with no operation on them in flight (an unpublish removes the mount on purpose). */
  public List<Published> candidates() {
    List<Published> out = new ArrayList<>();
    for (AttachedVolume v : asw.volumes()) {
      boolean busy = executor.isRunning(OperationKey.volume(v.spec.uniqueName()));
      for (MountedPod pod : v.pods.values()) {
        if (!busy && pod.state() == MountState.MOUNTED && !executor.isRunning(new OperationKey(v.spec.uniqueName(), pod.podUid()))) {
          out.add(new Published(v.spec.uniqueName(), pod, v.spec.block()));
        }
      }
    }
    return out;
  }

  /** Blocking: those of {@code published} whose mount is gone. */
  public List<Vanished> vanished(List<Published> published) {
    return published.stream().map(this::vanished).filter(Objects::nonNull).toList();
  }

  /**
   * Marks each vanished publish UNCERTAIN, unless the actual state changed meanwhile (the pod's record is another
   * now, or an operation on it started): that operation knows better.
   */
  public void markUncertain(List<Vanished> vanished) {
    for (Vanished gone : vanished) {
      Published p = gone.published();
      AttachedVolume v = asw.get(p.uniqueName());
      if (v == null || !p.pod().equals(v.pods.get(p.pod().podUid()))
          || executor.isRunning(new OperationKey(p.uniqueName(), p.pod().podUid()))
          || executor.isRunning(OperationKey.volume(p.uniqueName()))) {
        continue;
      }
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

  /**
   * A published volume whose mount is gone, with what is at its path when that is not the agent's: a link (there or
   * above), for a filesystem volume a file or a device, for a block volume a directory (null when it is what the
   * agent makes there, or nothing, which publishing again may use). Null while it is mounted, and for a block volume
   * whose path holds a device node: how a driver may publish one without a mount (mknod), so nothing vanished.
   * The path's kind is read once.
   */
  private Vanished vanished(Published p) {
    Path target = Path.of(p.pod().targetPath());
    if (mounts.isMountPoint(target)) {
      return null;
    }
    RootDir.Kind kind;
    try {
      kind = layout.rootDir().kind(target);
    } catch (FileSystemException e) {
      return new Vanished(p, e.getFile() + " " + (e.getReason() == null ? "is not a directory" : e.getReason()));
    } catch (IOException e) {
      return new Vanished(p, "it cannot be checked: " + e.getMessage());
    }
    if (p.block() && kind == RootDir.Kind.OTHER) {
      return null;
    }
    boolean agents = kind == RootDir.Kind.MISSING || (p.block() ? kind != RootDir.Kind.DIRECTORY : kind == RootDir.Kind.DIRECTORY);
    return new Vanished(p, agents ? null : "a " + kind.name().toLowerCase(Locale.ROOT) + " is there");
  }
}
