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

  // open(2) flags: x86_64 values (asm-generic/fcntl.h); arm64 has other O_DIRECTORY and O_NOFOLLOW bits
  int O_RDONLY = 0;
  int O_WRONLY = 01;
  int O_CREAT = 0100;
  int O_EXCL = 0200;
  int O_NONBLOCK = 04000;
  int O_DIRECTORY = 0200000;
  int O_NOFOLLOW = 0400000;
  int O_CLOEXEC = 02000000;
  int O_PATH = 010000000;
  // *at(2) arguments (linux/fcntl.h)
  int AT_FDCWD = -100;
  int AT_SYMLINK_NOFOLLOW = 0x100;
  int AT_REMOVEDIR = 0x200;
  int AT_EMPTY_PATH = 0x1000;
  // errno values (asm-generic/errno-base.h, errno.h)
  int EPERM = 1;
  int ENOENT = 2;
  int EINTR = 4;
  int EACCES = 13;
  int EEXIST = 17;
  int ENOTDIR = 20;
  int EISDIR = 21;
  int EINVAL = 22;
  int ENOSYS = 38;
  int ENOTEMPTY = 39;
  int ELOOP = 40;

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

  long write(int fd, @In byte[] buf, long count);

  int renameat(int olddirfd, String oldpath, int newdirfd, String newpath);

  int unlinkat(int dirfd, String path, int flags);

  int symlinkat(String target, int newdirfd, String linkpath);

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

  /** openat2(2): a {@code struct open_how} passed as its three u64 fields (flags, mode, resolve), only read. */
  long syscall(long number, long a1, String a2, @In long[] a3, long a4);

  String strerror(int errnum);

  static String lastError() {
    int errno = RUNTIME.getLastError();
    return INSTANCE.strerror(errno) + " (errno " + errno + ")";
  }

  static int lastErrno() {
    return RUNTIME.getLastError();
  }
}
