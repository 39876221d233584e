package dev.csinode.agent.volume;

import dev.csinode.mount.FileTree;
import dev.csinode.mount.PathHandle;
import dev.csinode.mount.RootDir;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Gives a pod's fsGroup access to a published volume, as the kubelet does for drivers that cannot do it
 * themselves (no VOLUME_MOUNT_GROUP): every file and directory gets the group, group read/write (directories
 * also execute and setgid, so new files inherit the group). Symlinks get the group but are not followed.
 * Stays on the volume's filesystem: a mount inside the volume is not the pod's to change.
 *
 * <p>The pod writes to the volume while this runs, so the walk goes by descriptor ({@link FileTree}): a directory
 * swapped for a link to {@code /etc} meanwhile is the link, never {@code /etc}; a FIFO is never opened, so it
 * cannot hold the walk.
 */
public final class VolumeOwnership {
  static final int SETGID = 02000;
  static final int RW = 0660;
  static final int EXEC = 0110;

  private VolumeOwnership() {}

  /**
   * Blocking. {@code volume} is a directory beneath {@code root}, reached without following a link.
   * {@code changePolicy}: {@code OnRootMismatch} skips the walk when the volume's root already has the group and
   * permissions; anything else ({@code Always}, the default) walks everything.
   */
  public static boolean apply(RootDir root, Path volume, long fsGroup, String changePolicy) throws IOException {
    int gid = Math.toIntExact(fsGroup);
    try (PathHandle top = root.openDirectory(volume)) {
      if ("OnRootMismatch".equals(changePolicy)) {
        boolean[] matches = {false};
        FileTree.visitTop(top, node -> matches[0] = node.gid() == gid && (node.mode() & SETGID) != 0
            && (node.mode() & (RW | EXEC)) == (RW | EXEC));
        if (matches[0]) {
          return false;
        }
      }
      FileTree.walk(top, node -> change(node, gid));
    }
    return true;
  }

  private static void change(FileTree.Node node, int gid) throws IOException {
    if (node.gid() != gid) {
      node.setGroup(gid);
    }
    if (node.type() == FileTree.Type.LINK) {
      return; // a link has no mode of its own; chmod would reach its target
    }
    boolean dir = node.type() == FileTree.Type.DIRECTORY;
    int wanted = node.mode() | RW | (dir ? SETGID | EXEC : 0);
    // chown(2) clears setuid/setgid on a file: set the mode after it, always, when the group was changed.
    if (wanted != node.mode() || node.gid() != gid) {
      node.setMode(wanted);
    }
  }
}
