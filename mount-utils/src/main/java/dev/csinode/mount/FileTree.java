package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_EMPTY_PATH;
import static dev.csinode.mount.LibC.ENOENT;
import static dev.csinode.mount.LibC.O_CLOEXEC;
import static dev.csinode.mount.LibC.O_DIRECTORY;
import static dev.csinode.mount.LibC.O_NOFOLLOW;
import static dev.csinode.mount.LibC.O_PATH;
import static dev.csinode.mount.LibC.O_RDONLY;
import static dev.csinode.mount.Statx.S_IFDIR;
import static dev.csinode.mount.Statx.S_IFLNK;
import static dev.csinode.mount.Statx.S_IFMT;
import static dev.csinode.mount.Statx.S_IFREG;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import jnr.ffi.Pointer;

/**
 * Walks a directory tree by descriptor, for changing owners and modes in a tree others write to (a pod's volume):
 * every entry is opened {@code O_PATH|O_NOFOLLOW} relative to its directory's descriptor, so a link swapped in
 * anywhere is the link itself, never where it points; its group and mode are changed through that descriptor, on
 * that very inode. Nothing is opened for reading but directories (a FIFO, a socket or a device is never opened,
 * so none can block the walk); the walk stays on the top directory's filesystem (a mount inside it is skipped).
 * Blocking.
 */
public final class FileTree {
  // struct statx offsets (linux/stat.h): stable across architectures.
  // struct dirent of glibc on 64-bit Linux (x86_64, aarch64): d_ino, d_off, d_reclen, d_type, d_name.
  private static final int D_NAME = 19;

  private static final byte[] EMPTY = {0};
  private static final byte[] DOT = {'.', 0};

  public enum Type { DIRECTORY, FILE, LINK, OTHER }

  /** One entry of the tree, valid during its visit only: changes go through its descriptor. */
  public static final class Node {
    private final int fd;
    private final Path path;
    private final Type type;
    private final int mode;
    private final int gid;
    private final long device;

    private Node(int fd, Path path, Type type, int mode, int gid, long device) {
      this.fd = fd;
      this.path = path;
      this.type = type;
      this.mode = mode;
      this.gid = gid;
      this.device = device;
    }

    /** For messages: the top's path and the names below it. */
    public Path path() {
      return path;
    }

    public Type type() {
      return type;
    }

    /** The permission bits, setuid/setgid/sticky included. */
    public int mode() {
      return mode;
    }

    public int gid() {
      return gid;
    }

    /** Changes the group of this inode (of a link, the link itself). */
    public void setGroup(int group) throws IOException {
      if (LibC.INSTANCE.fchownat(fd, EMPTY, -1, group, AT_EMPTY_PATH) != 0) {
        throw failure(path, "cannot change its group to " + group);
      }
    }

    /** Changes the permission bits of this inode; a link has none of its own, so it is refused. */
    public void setMode(int bits) throws IOException {
      if (type == Type.LINK) {
        throw new FileSystemException(path.toString(), null, "is a symbolic link, whose mode cannot be changed");
      }
      // The magic link names this very inode; chmod(2) never opens it.
      if (LibC.INSTANCE.chmod("/proc/self/fd/" + fd, bits & 07777) != 0) {
        throw failure(path, "cannot change its mode to " + Integer.toOctalString(bits & 07777));
      }
    }
  }

  /** Called for every entry, the top first, a directory before what it holds. */
  public interface Visitor {
    void visit(Node node) throws IOException;
  }

  private FileTree() {}

  /** Visits only the top directory (for a check before a walk). */
  public static void visitTop(PathHandle top, Visitor visitor) throws IOException {
    Node node = node(top.fd(), top.path());
    visitor.visit(node);
  }

  /** Walks the tree whose top is the directory held by {@code top}. */
  public static void walk(PathHandle top, Visitor visitor) throws IOException {
    Node node = node(top.fd(), top.path());
    if (node.type != Type.DIRECTORY) {
      throw new FileSystemException(top.path().toString(), null, "is not a directory");
    }
    visitor.visit(node);
    walkBelow(top.fd(), top.path(), node.device, visitor);
  }

  private static void walkBelow(int dirFd, Path dirPath, long device, Visitor visitor) throws IOException {
    for (byte[] name : list(dirFd, dirPath)) {
      Path path = dirPath.resolve(new String(name, 0, name.length - 1, StandardCharsets.UTF_8));
      int fd = LibC.INSTANCE.openat(dirFd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      if (fd < 0) {
        if (errno() == ENOENT) {
          continue; // removed meanwhile
        }
        throw failure(path, "cannot be opened");
      }
      try {
        Node node = node(fd, path);
        if (node.device != device) {
          continue; // a mount inside the tree: not part of it
        }
        visitor.visit(node);
        if (node.type == Type.DIRECTORY) {
          walkBelow(fd, path, device, visitor);
        }
      } finally {
        LibC.INSTANCE.close(fd);
      }
    }
  }

  /** The names in a directory (NUL-terminated), read through a descriptor opened from the held one. */
  private static List<byte[]> list(int dirFd, Path dirPath) throws IOException {
    int fd = LibC.INSTANCE.openat(dirFd, DOT, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) {
      throw failure(dirPath, "cannot be listed");
    }
    Pointer dir = LibC.INSTANCE.fdopendir(fd);
    if (dir == null) {
      IOException e = failure(dirPath, "cannot be listed");
      LibC.INSTANCE.close(fd);
      throw e;
    }
    List<byte[]> names = new ArrayList<>();
    try {
      Pointer entry;
      while ((entry = LibC.INSTANCE.readdir(dir)) != null) {
        int len = 0;
        while (len < 256 && entry.getByte(D_NAME + len) != 0) {
          len++;
        }
        byte[] name = new byte[len + 1];
        entry.get(D_NAME, name, 0, len);
        if (!(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.')) {
          names.add(name);
        }
      }
    } finally {
      LibC.INSTANCE.closedir(dir);
    }
    names.sort(Arrays::compare);
    return names;
  }

  private static Node node(int fd, Path path) throws IOException {
    Pointer buf = stat(fd, path);
    int mode = Statx.mode(buf);
    Type type = switch (mode & S_IFMT) {
      case S_IFDIR -> Type.DIRECTORY;
      case S_IFREG -> Type.FILE;
      case S_IFLNK -> Type.LINK;
      default -> Type.OTHER;
    };
    return new Node(fd, path, type, mode & 07777, Statx.gid(buf), Statx.device(buf));
  }

  private static Pointer stat(int fd, Path path) throws IOException {
    Pointer buf = Statx.buffer();
    if (LibC.INSTANCE.statx(fd, EMPTY, AT_EMPTY_PATH, Statx.BASIC_STATS, buf) != 0) {
      throw failure(path, "cannot be examined");
    }
    return buf;
  }

  private static IOException failure(Path path, String what) {
    int errno = errno();
    return new FileSystemException(path.toString(), null, what + ": " + LibC.INSTANCE.strerror(errno) + " (errno " + errno + ")");
  }

  private static int errno() {
    return LibC.lastErrno();
  }
}
