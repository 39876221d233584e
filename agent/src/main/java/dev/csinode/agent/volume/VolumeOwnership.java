package dev.csinode.agent.volume;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Gives a pod's fsGroup access to a published volume, as the kubelet does for drivers that cannot do it
 * themselves (no VOLUME_MOUNT_GROUP): every file and directory gets the group, group read/write (directories
 * also execute and setgid, so new files inherit the group). Symlinks get the group but are not followed.
 * Stays on the volume's filesystem: a mount inside the volume is not the pod's to change.
 */
public final class VolumeOwnership {
  static final int SETGID = 02000;
  static final int RW = 0660;
  static final int EXEC = 0110;

  private VolumeOwnership() {}

  /**
   * Blocking. {@code changePolicy}: {@code OnRootMismatch} skips the walk when the volume's root already has the
   * group and permissions; anything else ({@code Always}, the default) walks everything.
   */
  public static boolean apply(Path volume, long fsGroup, String changePolicy) throws IOException {
    int gid = Math.toIntExact(fsGroup);
    if ("OnRootMismatch".equals(changePolicy) && rootMatches(volume, gid)) {
      return false;
    }
    Object device = Files.getAttribute(volume, "unix:dev");
    Files.walkFileTree(volume, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (!dir.equals(volume) && !device.equals(Files.getAttribute(dir, "unix:dev", LinkOption.NOFOLLOW_LINKS))) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        change(dir, gid, true);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (attrs.isSymbolicLink()) {
          Files.setAttribute(file, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        } else {
          change(file, gid, false);
        }
        return FileVisitResult.CONTINUE;
      }
    });
    return true;
  }

  private static void change(Path p, int gid, boolean dir) throws IOException {
    Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
    int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
    int wanted = mode | RW | (dir ? SETGID | EXEC : 0);
    if (wanted != mode) {
      Files.setAttribute(p, "unix:mode", wanted, LinkOption.NOFOLLOW_LINKS);
    }
  }

  private static boolean rootMatches(Path root, int gid) throws IOException {
    int mode = (Integer) Files.getAttribute(root, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    int owner = (Integer) Files.getAttribute(root, "unix:gid", LinkOption.NOFOLLOW_LINKS);
    return owner == gid && (mode & SETGID) != 0 && (mode & (RW | EXEC)) == (RW | EXEC);
  }
}
