package dev.csinode.agent.volume;

import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import java.nio.file.Path;

/**
 * What the agent asks the host about mounts: the drivers mount and unmount, the agent only looks, before it removes
 * a directory (never a mount point) and when it checks for drift. {@link #host()} asks the kernel; tests of the
 * reconciler and the volume operations keep their own table, so that they need no root and no mount.
 */
public interface MountPoints {

  /** Whether something is mounted at exactly this path. Blocking. */
  boolean isMountPoint(Path path);

  /** The mount table as it is now. Blocking. */
  MountTable table();

  /** The calling process's mounts: statx(2) for one path, /proc/self/mountinfo for the table. */
  static MountPoints host() {
    Mounter mounter = new Mounter();
    return new MountPoints() {
      @Override
      public boolean isMountPoint(Path path) {
        return mounter.isMountPoint(path);
      }

      @Override
      public MountTable table() {
        return MountTable.read();
      }
    };
  }
}
