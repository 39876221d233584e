package dev.csinode.mount;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/**
 * statx(2)'s request masks, file types and the fields of {@code struct statx} this layer reads (linux/stat.h; the
 * layout is the same on every architecture), in one place for every class that looks at a file without the JDK's
 * stat calls (which throw, and with a stack trace, on the missing paths a first stage or publish always has).
 */
final class Statx {
  /** Request masks. */
  static final int TYPE = 0x1;
  static final int TYPE_AND_MODE = 0x3;
  static final int BASIC_STATS = 0x7ff;

  /** The S_IFMT bits of st_mode. */
  static final int S_IFMT = 0170000;
  static final int S_IFDIR = 0040000;
  static final int S_IFREG = 0100000;
  static final int S_IFLNK = 0120000;

  private static final long ATTR_MOUNT_ROOT = 0x2000;
  private static final int SIZE = 256;
  private static final int ATTRIBUTES = 8;
  private static final int GID = 24;
  private static final int MODE = 28;
  private static final int ATTRIBUTES_MASK = 56;
  private static final int DEV_MAJOR = 136;
  private static final int DEV_MINOR = 140;

  private Statx() {}

  /** A buffer for one statx(2) answer; one per call or per walk, never shared between threads. */
  static Pointer buffer() {
    return Memory.allocate(LibC.RUNTIME, SIZE);
  }

  /** st_mode: type and permission bits. */
  static int mode(Pointer buf) {
    return buf.getShort(MODE) & 0xffff;
  }

  /** The S_IFMT bits of st_mode. */
  static int type(Pointer buf) {
    return buf.getShort(MODE) & S_IFMT;
  }

  static int gid(Pointer buf) {
    return buf.getInt(GID);
  }

  /** The device of the filesystem the file is on, major and minor in one number. */
  static long device(Pointer buf) {
    return ((long) buf.getInt(DEV_MAJOR) << 32) | (buf.getInt(DEV_MINOR) & 0xffffffffL);
  }

  /** Whether the file is the root of a mount, or null when the kernel does not say (before Linux 5.8). */
  static Boolean mountRoot(Pointer buf) {
    if ((buf.getLong(ATTRIBUTES_MASK) & ATTR_MOUNT_ROOT) == 0) {
      return null;
    }
    return (buf.getLong(ATTRIBUTES) & ATTR_MOUNT_ROOT) != 0;
  }
}
