package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_EMPTY_PATH;
import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.ENOSYS;

import java.nio.file.Path;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * open_tree(2), mount_setattr(2) and move_mount(2) (x86_64 numbers): a bind mount made detached, given its flags,
 * and attached to a descriptor in one step. Every argument is passed as a long, as syscall(3) reads them.
 */
final class NewMountApi {
  private static final long SYS_OPEN_TREE = 428;
  private static final long SYS_MOVE_MOUNT = 429;
  private static final long SYS_MOUNT_SETATTR = 442;
  private static final long OPEN_TREE_CLONE = 1;
  private static final long OPEN_TREE_CLOEXEC = 02000000;
  private static final long MOVE_MOUNT_F_EMPTY_PATH = 0x4;
  private static final long MOVE_MOUNT_T_EMPTY_PATH = 0x40;
  private static final long MOUNT_ATTR_RDONLY = 0x1;
  private static final long MOUNT_ATTR_NOSUID = 0x2;
  private static final long MOUNT_ATTR_NODEV = 0x4;
  private static final long MOUNT_ATTR_NOEXEC = 0x8;
  private static final long MOUNT_ATTR_ATIME = 0x70;
  private static final long MOUNT_ATTR_NOATIME = 0x10;
  private static final long MOUNT_ATTR_STRICTATIME = 0x20;
  private static final long MOUNT_ATTR_NODIRATIME = 0x80;
  private static final boolean X86_64 = "amd64".equals(System.getProperty("os.arch"));
  private static volatile boolean unavailable = !X86_64;

  private NewMountApi() {}

  /** False when the kernel has no new mount API (then nothing was done); throws when the mount failed. */
  static boolean bind(Path source, PathHandle target, long msFlags, String what) {
    if (unavailable) {
      return false;
    }
    long tree = LibC.INSTANCE.syscall(SYS_OPEN_TREE, AT_FDCWD, source.toString(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) {
      int errno = LibC.lastErrno();
      if (errno == ENOSYS) {
        unavailable = true;
        return false;
      }
      throw failure(what, target, errno);
    }
    try {
      long set = attributes(msFlags);
      if (set != 0) {
        Pointer attr = Memory.allocate(LibC.RUNTIME, 32); // struct mount_attr: attr_set, attr_clr, propagation, userns_fd
        attr.putLong(0, set);
        attr.putLong(8, (set & MOUNT_ATTR_ATIME) != 0 || (msFlags & MountFlags.MS_RELATIME) != 0 ? MOUNT_ATTR_ATIME : 0);
        if (LibC.INSTANCE.syscall(SYS_MOUNT_SETATTR, tree, "", AT_EMPTY_PATH, attr, 32) != 0) {
          int errno = LibC.lastErrno();
          if (errno == ENOSYS) { // open_tree without mount_setattr (Linux 5.2 to 5.11)
            unavailable = true;
            return false;
          }
          throw failure(what, target, errno);
        }
      }
      if (LibC.INSTANCE.syscall(SYS_MOVE_MOUNT, tree, "", target.fd(), "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0) {
        throw failure(what, target, LibC.lastErrno());
      }
      return true;
    } finally {
      LibC.INSTANCE.close((int) tree); // a detached tree not moved is unmounted with its last descriptor
    }
  }

  /** The per-mount flags of mount(2) as mount_setattr(2) attributes (superblock flags do not apply to a bind). */
  static long attributes(long ms) {
    long a = 0;
    a |= (ms & MountFlags.MS_RDONLY) != 0 ? MOUNT_ATTR_RDONLY : 0;
    a |= (ms & MountFlags.MS_NOSUID) != 0 ? MOUNT_ATTR_NOSUID : 0;
    a |= (ms & MountFlags.MS_NODEV) != 0 ? MOUNT_ATTR_NODEV : 0;
    a |= (ms & MountFlags.MS_NOEXEC) != 0 ? MOUNT_ATTR_NOEXEC : 0;
    a |= (ms & MountFlags.MS_NODIRATIME) != 0 ? MOUNT_ATTR_NODIRATIME : 0;
    a |= (ms & MountFlags.MS_NOATIME) != 0 ? MOUNT_ATTR_NOATIME : (ms & MountFlags.MS_STRICTATIME) != 0 ? MOUNT_ATTR_STRICTATIME : 0;
    return a;
  }

  private static MountException failure(String what, PathHandle target, int errno) {
    return new MountException("cannot " + what + " at " + target.path() + ": " + LibC.INSTANCE.strerror(errno)
        + " (errno " + errno + ")", errno);
  }
}
