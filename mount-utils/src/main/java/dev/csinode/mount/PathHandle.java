package dev.csinode.mount;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An O_PATH descriptor of a directory or file opened beneath a {@link RootDir} without following any symbolic
 * link. Whatever is later done through it (a mount onto {@link #procPath()}, a file created, renamed or removed in
 * it with the *at calls on its descriptor) acts on this very inode, even if a component of {@link #path()} is
 * swapped for a link meanwhile: the fix of the kubelet for CVE-2021-25741, applied to every path the node makes.
 * Close it when done.
 */
public final class PathHandle implements AutoCloseable {
  private final RootDir root;
  private final Path path;
  private int fd;

  PathHandle(RootDir root, Path path, int fd) {
    this.root = root;
    this.path = path;
    this.fd = fd;
  }

  /** The path this was opened as (for messages and records; never to act on). */
  public Path path() {
    return path;
  }

  /** {@code /proc/self/fd/N}: the kernel resolves it to this inode, never again through the path. */
  public Path procPath() {
    if (fd < 0) {
      throw new IllegalStateException(path + " is closed");
    }
    return Path.of("/proc/self/fd/" + fd);
  }

  int fd() {
    if (fd < 0) {
      throw new IllegalStateException(path + " is closed");
    }
    return fd;
  }

  /**
   * Opens the same path again, beneath the same root: after something was mounted here this reaches the top of the
   * mount (the descriptor held here stays on the directory below it).
   */
  public PathHandle reopen() throws IOException {
    return root.open(path);
  }

  @Override
  public void close() {
    if (fd >= 0) {
      LibC.INSTANCE.close(fd);
      fd = -1;
    }
  }
}
