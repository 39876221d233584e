package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.AT_SYMLINK_NOFOLLOW;
import static dev.csinode.mount.LibC.EINVAL;
import static dev.csinode.mount.LibC.ENOENT;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;
import jnr.ffi.Pointer;

/**
 * Mounts and unmounts through the mount(2) and umount2(2) system calls. No /bin/mount process per call:
 * a bind mount costs microseconds instead of a fork and exec. Callers run these off the event loop.
 */
public final class Mounter {

  /** Bind-mounts source onto target, then applies read-only and other flags with a remount (bind ignores them). */
  public void bind(Path source, Path target, boolean readOnly, Collection<String> options) {
    call(source.toString(), target, null, MountFlags.MS_BIND, null, "bind-mount " + source);
    MountFlags.Parsed parsed = MountFlags.parse(options);
    long extra = parsed.flags() | (readOnly ? MountFlags.MS_RDONLY : 0);
    if (extra != 0) {
      try {
        call(source.toString(), target, null, MountFlags.MS_BIND | MountFlags.MS_REMOUNT | extra, null,
            "remount bind " + source + " with " + options + (readOnly ? " read-only" : ""));
      } catch (MountException e) {
        unmount(target);
        throw e;
      }
    }
  }

  /** Mounts a block device with a filesystem; mount options become flags and data as mount(8) would. */
  public void mount(String device, Path target, String fsType, Collection<String> options, boolean readOnly) {
    MountFlags.Parsed parsed = MountFlags.parse(options);
    long flags = parsed.flags() | (readOnly ? MountFlags.MS_RDONLY : 0);
    call(device, target, fsType, flags, parsed.data().isEmpty() ? null : parsed.data(), "mount " + fsType + " " + device);
  }

  /**
   * Bind-mounts source onto the directory or file held by target: the mount lands on that inode, even if a component
   * of its path was swapped for a symbolic link since it was opened. With the new mount API (Linux 5.12+) the bind
   * is made detached, given its flags and then moved onto the target in one step, so there is no window in which it
   * is mounted read-write or must be found again by path; older kernels get mount(2) onto {@code /proc/self/fd/N}
   * and a remount of the new mount, opened again beneath the same root.
   */
  public void bind(Path source, PathHandle target, boolean readOnly, Collection<String> options) throws IOException {
    MountFlags.Parsed parsed = MountFlags.parse(options);
    long extra = parsed.flags() | (readOnly ? MountFlags.MS_RDONLY : 0);
    String what = "bind-mount " + source + (extra == 0 ? "" : " with " + options + (readOnly ? " read-only" : ""));
    if (NewMountApi.bind(source, target, extra, what)) {
      return;
    }
    call(source.toString(), target.procPath(), null, MountFlags.MS_BIND, null, what, target.path());
    if (extra != 0) {
      try (PathHandle top = target.reopen()) {
        try {
          call(source.toString(), top.procPath(), null, MountFlags.MS_BIND | MountFlags.MS_REMOUNT | extra, null, what, target.path());
        } catch (MountException e) {
          LibC.INSTANCE.umount2(top.procPath().toString(), 0); // the magic link names the new mount itself
          throw e;
        }
      }
    }
  }

  /** Mounts a block device with a filesystem onto the directory held by target (see {@link #bind(Path, PathHandle, boolean, Collection)}). */
  public void mount(String device, PathHandle target, String fsType, Collection<String> options, boolean readOnly) {
    MountFlags.Parsed parsed = MountFlags.parse(options);
    long flags = parsed.flags() | (readOnly ? MountFlags.MS_RDONLY : 0);
    call(device, target.procPath(), fsType, flags, parsed.data().isEmpty() ? null : parsed.data(), "mount " + fsType + " " + device,
        target.path());
  }

  /** Unmounts the topmost mount at target; returns false when nothing was mounted there. */
  public boolean unmount(Path target) {
    if (LibC.INSTANCE.umount2(target.toString(), MountFlags.UMOUNT_NOFOLLOW) == 0) {
      return true;
    }
    int errno = LibC.lastErrno();
    if (errno == EINVAL || errno == ENOENT) {
      return false;
    }
    throw new MountException("cannot unmount " + target + ": " + LibC.INSTANCE.strerror(errno) + " (errno " + errno + ")", errno);
  }

  /** Unmounts every layer stacked at target. */
  public int unmountAll(Path target) {
    int n = 0;
    while (n < 64 && unmount(target)) {
      n++;
    }
    return n;
  }

  /**
   * Whether something is mounted at exactly this path. statx(2) answers from the path alone (Linux 5.8+);
   * reading /proc/self/mountinfo instead costs milliseconds once thousands of volumes are mounted.
   */
  public boolean isMountPoint(Path path) {
    Pointer buf = Statx.buffer();
    if (LibC.INSTANCE.statx(AT_FDCWD, path.toString(), AT_SYMLINK_NOFOLLOW, Statx.BASIC_STATS, buf) != 0) {
      if (LibC.lastErrno() == ENOENT) {
        return false;
      }
      return MountTable.read().isMountPoint(path);
    }
    Boolean mountRoot = Statx.mountRoot(buf);
    return mountRoot != null ? mountRoot : MountTable.read().isMountPoint(path); // null: a kernel too old to say
  }

  private static void call(String source, Path target, String fsType, long flags, String data, String what) {
    call(source, target, fsType, flags, data, what, target);
  }

  /** {@code named} is the path for the message when the call goes through a {@code /proc/self/fd} link. */
  private static void call(String source, Path target, String fsType, long flags, String data, String what, Path named) {
    if (LibC.INSTANCE.mount(source, target.toString(), fsType, flags, data) != 0) {
      int errno = LibC.lastErrno();
      throw new MountException("cannot " + what + " at " + named + ": " + LibC.INSTANCE.strerror(errno)
          + " (errno " + errno + ")", errno);
    }
  }
}
