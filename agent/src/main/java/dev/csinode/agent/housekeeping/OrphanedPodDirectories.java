package dev.csinode.agent.housekeeping;

import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.VolData;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Pod directories ({@code <root>/pods/<uid>}) of pods that are neither wanted nor hold a volume the agent
 * knows of: the kubelet's orphaned pod cleanup, stricter. A directory with anything mounted below it is kept
 * and reported, never entered. Otherwise only what the agent itself creates is removed: empty directories,
 * {@code vol_data.json} files and the block device symlinks under {@code volumes/} and {@code volumeDevices/}.
 * A regular file anywhere else (data written into an unmounted volume directory, a runtime's own files) keeps
 * its directories and is reported: nothing is ever deleted recursively.
 */
public final class OrphanedPodDirectories {

  /** One orphaned pod directory: {@code action} is {@code remove} (dry run), {@code removed} or {@code keep}. */
  public record Orphan(String podUid, String path, String action, String reason) {}

  private OrphanedPodDirectories() {}

  /** Blocking. The pod directories whose UID is not in {@code known}, each with what a cleanup would do. */
  public static List<Orphan> find(KubeletLayout layout, Set<String> known, MountTable mounts) {
    List<Orphan> out = new ArrayList<>();
    Path pods = layout.podsDir();
    if (!Files.isDirectory(pods, LinkOption.NOFOLLOW_LINKS)) {
      return out;
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(pods)) {
      for (Path dir : s) {
        String uid = dir.getFileName().toString();
        if (known.contains(uid) || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
          continue;
        }
        List<MountInfo> below = mounts.under(dir);
        if (!below.isEmpty()) {
          out.add(new Orphan(uid, dir.toString(), "keep", "still mounted: " + String.join(", ",
              below.stream().map(MountInfo::mountPoint).limit(5).toList()) + (below.size() > 5 ? ", ..." : "")
              + "; unmount it (or give the agent a pod that uses it) and it is cleaned up"));
          continue;
        }
        List<Path> foreign = foreignFiles(dir);
        out.add(foreign.isEmpty() ? new Orphan(uid, dir.toString(), "remove", "no pod uses it and nothing is mounted below it")
            : new Orphan(uid, dir.toString(), "keep", "holds files the agent did not create: " + String.join(", ",
                foreign.stream().limit(5).map(Path::toString).toList()) + (foreign.size() > 5 ? ", ..." : "")));
      }
    } catch (IOException e) {
      out.add(new Orphan("", pods.toString(), "keep", "cannot list: " + e.getMessage()));
    }
    out.sort(java.util.Comparator.comparing(Orphan::path));
    return out;
  }

  /**
   * Blocking. Removes the directory of an orphan {@link #find} said to remove, checking every directory again
   * before it goes (a mount point is never removed, even if it appeared since).
   */
  public static Orphan remove(Orphan orphan, Predicate<Path> isMountPoint) {
    Path dir = Path.of(orphan.path());
    try {
      removeOwn(dir, isMountPoint);
      return new Orphan(orphan.podUid(), orphan.path(), "removed", orphan.reason());
    } catch (IOException | IllegalStateException e) {
      return new Orphan(orphan.podUid(), orphan.path(), "keep", "could not be removed: " + e.getMessage());
    }
  }

  private static void removeOwn(Path dir, Predicate<Path> isMountPoint) throws IOException {
    if (isMountPoint.test(dir)) {
      throw new IllegalStateException(dir + " is a mount point");
    }
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path p : s) {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
          removeOwn(p, isMountPoint);
        } else if (ownFile(p)) {
          Files.delete(p);
        } else {
          throw new IllegalStateException(p + " was not created by the agent");
        }
      }
    }
    try {
      Files.delete(dir);
    } catch (DirectoryNotEmptyException e) {
      throw new IllegalStateException(dir + " is not empty");
    }
  }

  /**
   * Files the agent writes under a pod directory: vol_data.json (and the temp file a crash during its replacement
   * can leave) and block device links.
   */
  private static boolean ownFile(Path p) {
    String name = p.getFileName().toString();
    return name.equals(VolData.FILE) || name.startsWith(VolData.FILE + ".") && name.endsWith(".tmp")
        || Files.isSymbolicLink(p) && p.toString().contains("/volumeDevices/");
  }

  private static List<Path> foreignFiles(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try (var walk = Files.walk(dir)) {
      walk.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !ownFile(p)).limit(6).forEach(out::add);
    }
    return out;
  }
}
