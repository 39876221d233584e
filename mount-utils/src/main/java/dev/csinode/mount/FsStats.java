package dev.csinode.mount;

import jnr.ffi.Memory;
import jnr.ffi.Pointer;

/** statvfs(3) figures for the filesystem holding a path. */
public record FsStats(long totalBytes, long availableBytes, long usedBytes, long totalInodes, long freeInodes, long usedInodes) {

  // struct statvfs on x86_64/aarch64 glibc: 11 unsigned longs then 6 ints of padding.
  private static final int SIZE = 112;

  public static FsStats of(String path) {
    Pointer buf = Memory.allocate(LibC.RUNTIME, SIZE);
    if (LibC.INSTANCE.statvfs(path, buf) != 0) {
      int errno = LibC.lastErrno();
      throw new MountException("cannot statvfs " + path + ": " + LibC.INSTANCE.strerror(errno), errno);
    }
    long frsize = buf.getLong(8);
    long blocks = buf.getLong(16);
    long bfree = buf.getLong(24);
    long bavail = buf.getLong(32);
    long files = buf.getLong(40);
    long ffree = buf.getLong(48);
    return new FsStats(blocks * frsize, bavail * frsize, (blocks - bfree) * frsize, files, ffree, files - ffree);
  }
}
