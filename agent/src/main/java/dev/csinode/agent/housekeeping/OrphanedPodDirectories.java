package dev.csinode.agent.housekeeping;

import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.VolData;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.PathHandle;
import dev.csinode.mount.RootDir;
import dev.csinode.mount.SymlinkRefusedException;
import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * Pod directories ({@code <root>/pods/<uid>}) of pods that are neither wanted nor hold a volume the agent
 * knows of: the kubelet's orphaned pod cleanup, stricter. A directory with anything mounted below it is kept
 * and reported, never entered. Otherwise only the exact paths the agent itself creates are removed: the
 * directories {@code volumes/kubernetes.io~csi/<name>/mount} and {@code volumeDevices/kubernetes.io~csi} with
 * their parents (when empty), {@code volumes/kubernetes.io~csi/<name>/vol_data.json} and the block device links
 * {@code volumeDevices/kubernetes.io~csi/<name>}. Anything else (data written into an unmounted volume directory,
 * a file named vol_data.json in it, a runtime's own files) keeps its directories and is reported: nothing is ever
 * deleted recursively, and nothing is reached through a link.
 */
public final class OrphanedPodDirectories {

  /** One orphaned pod directory and what was (or, in a dry run, would be) done with it. */
  public record Orphan(String podUid, String path, HousekeepingAction action, String reason) {}

  private static final Pattern TEMP = Pattern.compile(Pattern.quote(VolData.FILE) + "\\.[0-9]+\\.tmp");

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
          out.add(new Orphan(uid, dir.toString(), HousekeepingAction.KEEP, "still mounted: " + String.join(", ",
              below.stream().map(MountInfo::mountPoint).limit(5).toList()) + (below.size() > 5 ? ", ..." : "")
              + "; unmount it (or give the agent a pod that uses it) and it is cleaned up"));
          continue;
        }
        List<Path> foreign = foreignFiles(dir);
        out.add(foreign.isEmpty() ? new Orphan(uid, dir.toString(), HousekeepingAction.REMOVE, "no pod uses it and nothing is mounted below it")
            : new Orphan(uid, dir.toString(), HousekeepingAction.KEEP, "holds files the agent did not create: " + String.join(", ",
                foreign.stream().limit(5).map(Path::toString).toList()) + (foreign.size() > 5 ? ", ..." : "")));
      }
    } catch (IOException e) {
      out.add(new Orphan("", pods.toString(), HousekeepingAction.KEEP, "cannot list: " + e.getMessage()));
    }
    out.sort(Comparator.comparing(Orphan::path));
    return out;
  }

  /**
   * Blocking. Removes the directory of an orphan {@link #find} said to remove, checking every directory again
   * before it goes (a mount point is never removed, even if it appeared since). Everything is opened and removed
   * beneath the root without following a link.
   */
  public static Orphan remove(KubeletLayout layout, Orphan orphan, Predicate<Path> isMountPoint) {
    Path dir = Path.of(orphan.path());
    try {
      removeOwn(layout.rootDir(), dir, List.of(), isMountPoint);
      return new Orphan(orphan.podUid(), orphan.path(), HousekeepingAction.REMOVED, orphan.reason());
    } catch (IOException | IllegalStateException e) {
      return new Orphan(orphan.podUid(), orphan.path(), HousekeepingAction.KEEP, "could not be removed: " + e.getMessage());
    }
  }

  /** {@code relative}: the names from the pod directory down to {@code dir}. */
  private static void removeOwn(RootDir root, Path dir, List<String> relative, Predicate<Path> isMountPoint) throws IOException {
    if (isMountPoint.test(dir)) {
      throw new IllegalStateException(dir + " is a mount point");
    }
    try (PathHandle handle = root.openDirectory(dir); DirectoryStream<Path> s = Files.newDirectoryStream(handle.procPath())) {
      for (Path entry : s) {
        Path p = dir.resolve(entry.getFileName().toString());
        List<String> rel = append(relative, entry.getFileName().toString());
        RootDir.Kind kind;
        boolean link = false;
        try {
          kind = root.kind(p);
        } catch (SymlinkRefusedException e) {
          kind = RootDir.Kind.OTHER;
          link = true;
        }
        if (kind == RootDir.Kind.DIRECTORY && ownDirectory(rel)) {
          removeOwn(root, p, rel, isMountPoint);
        } else if (ownFile(rel, kind, link)) {
          root.delete(p);
        } else {
          throw new IllegalStateException(p + " was not created by the agent");
        }
      }
    }
    try {
      root.delete(dir);
    } catch (DirectoryNotEmptyException e) {
      throw new IllegalStateException(dir + " is not empty");
    }
  }

  private static List<String> append(List<String> names, String name) {
    List<String> out = new ArrayList<>(names);
    out.add(name);
    return out;
  }

  /**
   * The directories the agent (or the driver, for {@code mount}) makes in a pod directory, and nothing else:
   * {@code volumes/kubernetes.io~csi/<name>/mount} and {@code volumeDevices/kubernetes.io~csi}, with their parents.
   */
  private static boolean ownDirectory(List<String> rel) {
    return switch (rel.size()) {
      case 0 -> true;
      case 1 -> rel.get(0).equals("volumes") || rel.get(0).equals("volumeDevices");
      case 2 -> rel.get(1).equals(KubeletLayout.ESCAPED_PLUGIN_NAME);
      case 3 -> rel.get(0).equals("volumes") && KubeletLayout.isValidName(rel.get(2));
      case 4 -> rel.get(0).equals("volumes") && KubeletLayout.isValidName(rel.get(2)) && rel.get(3).equals("mount");
      default -> false;
    };
  }

  /**
   * The exact files the agent writes in a pod directory: {@code volumes/kubernetes.io~csi/<name>/vol_data.json}
   * (and the temp file a crash during its replacement can leave), regular files; and the block device links
   * {@code volumeDevices/kubernetes.io~csi/<name>}. A file of that name anywhere else (in a volume's {@code mount}
   * directory, say) is the user's.
   */
  private static boolean ownFile(List<String> rel, RootDir.Kind kind, boolean link) {
    if (rel.size() == 4 && rel.get(0).equals("volumes") && rel.get(1).equals(KubeletLayout.ESCAPED_PLUGIN_NAME)
        && KubeletLayout.isValidName(rel.get(2)) && kind == RootDir.Kind.FILE && !link) {
      return rel.get(3).equals(VolData.FILE) || TEMP.matcher(rel.get(3)).matches();
    }
    return rel.size() == 3 && rel.get(0).equals("volumeDevices") && rel.get(1).equals(KubeletLayout.ESCAPED_PLUGIN_NAME)
        && KubeletLayout.isValidName(rel.get(2)) && link;
  }

  private static List<Path> foreignFiles(Path dir) throws IOException {
    List<Path> out = new ArrayList<>();
    try (var walk = Files.walk(dir)) {
      walk.filter(p -> !p.equals(dir) && !own(dir, p)).limit(6).forEach(out::add);
    }
    return out;
  }

  private static boolean own(Path podDir, Path p) {
    List<String> rel = new ArrayList<>();
    podDir.relativize(p).forEach(n -> rel.add(n.toString()));
    boolean link = Files.isSymbolicLink(p);
    if (!link && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
      return ownDirectory(rel);
    }
    return ownFile(rel, Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) ? RootDir.Kind.FILE : RootDir.Kind.OTHER, link);
  }
}
