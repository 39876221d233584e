package dev.csinode.mount;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;

/**
 * Every libc call of the host layer, in one binding loaded once. Public only because jnr-ffi generates its
 * implementation in another class loader. A name given as {@code byte[]} is NUL-terminated by the caller: it is
 * passed as read from a directory, whatever its encoding.
 */
public interface LibC {
  LibC INSTANCE = LibraryLoader.create(LibC.class).load("c");
  Runtime RUNTIME = Runtime.getRuntime(INSTANCE);

  int mount(String source, String target, String filesystemtype, long mountflags, String data);

  int umount2(String target, int flags);

  int statvfs(String path, Pointer buf);

  int mkdir(String path, int mode);

  int mkdirat(int dirfd, String path, int mode);

  int rmdir(String path);

  int unlink(String path);

  int openat(int dirfd, String path, int flags, int mode);

  int openat(int dirfd, @In byte[] path, int flags, int mode);

  int close(int fd);

  long read(int fd, @Out byte[] buf, long count);

  int statx(int dirfd, String pathname, int flags, int mask, Pointer statxbuf);

  int statx(int dirfd, @In byte[] pathname, int flags, int mask, Pointer statxbuf);

  int fchownat(int dirfd, @In byte[] pathname, int owner, int group, int flags);

  int fchmodat(int dirfd, String path, int mode, int flags);

  int chmod(String path, int mode);

  Pointer fdopendir(int fd);

  Pointer readdir(Pointer dir);

  int closedir(Pointer dir);

  /** For the new mount API, which glibc has no wrappers for; every argument is passed as syscall(3) reads it. */
  long syscall(long number, long a1, String a2, long a3);

  long syscall(long number, long a1, String a2, long a3, Pointer a4, long a5);

  long syscall(long number, long a1, String a2, long a3, String a4, long a5);

  String strerror(int errnum);

  static String lastError() {
    int errno = RUNTIME.getLastError();
    return INSTANCE.strerror(errno) + " (errno " + errno + ")";
  }

  static int lastErrno() {
    return RUNTIME.getLastError();
  }
}
