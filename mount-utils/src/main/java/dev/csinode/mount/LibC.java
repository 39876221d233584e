package dev.csinode.mount;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/** The few libc calls the host layer needs; loaded once. Public only because jnr-ffi generates its implementation in another class loader. */
public interface LibC {
  LibC INSTANCE = LibraryLoader.create(LibC.class).load("c");
  Runtime RUNTIME = Runtime.getRuntime(INSTANCE);

  int mount(String source, String target, String filesystemtype, long mountflags, String data);

  int umount2(String target, int flags);

  int statvfs(String path, Pointer buf);

  int mkdir(String path, int mode);

  int statx(int dirfd, String pathname, int flags, int mask, Pointer statxbuf);

  String strerror(int errnum);

  static String lastError() {
    int errno = RUNTIME.getLastError();
    return INSTANCE.strerror(errno) + " (errno " + errno + ")";
  }

  static int lastErrno() {
    return RUNTIME.getLastError();
  }
}
