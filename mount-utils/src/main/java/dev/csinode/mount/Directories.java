package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.AT_SYMLINK_NOFOLLOW;
import static dev.csinode.mount.LibC.EEXIST;
import static dev.csinode.mount.LibC.ENOENT;
import static dev.csinode.mount.LibC.ENOTEMPTY;
import static dev.csinode.mount.Statx.S_IFDIR;

import java.io.IOException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import jnr.ffi.Pointer;

/**
 * {@code mkdir -p} for the paths of every mount: mkdir(2) through libc, its errno read as a number. What
 * {@link Files#createDirectories} does, without its exceptions on the common paths: it tries the whole path
 * first and then walks the parents with access(2), one exception per missing level, and another for a directory
 * that exists. A batch of a thousand pods made ~10,000 such exceptions (2.5 % of its CPU).
 */
public final class Directories {

  private static final Mounter MOUNTS = new Mounter();

  private Directories() {}

  /**
   * Recursive delete that never follows symlinks (a link is removed, not what it points to), never descends into
   * another filesystem, and deletes nothing when anything in the tree is a mount point (a bind mount of the same
   * filesystem too) or a directory of another filesystem. Every entry is looked at first, with one statx(2) each
   * (its type, its device and whether it is a mount's root), and only then is anything deleted: not by reading the
   * mount table, which with a thousand volumes mounted was most of a driver's CPU under pod churn, nor with the JDK's
   * walks, which took three stat calls and two listings of an empty volume's directory. A missing tree is fine.
   * Blocking.
   *
   * @param itself whether {@code root} goes too, or only what it holds
   */
  public static void deleteTree(Path root, boolean itself) throws IOException {
    Pointer buf = Statx.buffer();
    Entry top = Entry.of(root, buf);
    if (top == null || top.type() != S_IFDIR) {
      if (top != null && itself) {
        Files.deleteIfExists(root);
      }
      return;
    }
    List<Entry> tree = new ArrayList<>();
    tree.add(top);
    // Parents before their children; deleted in the reverse order, children first.
    for (int i = 0; i < tree.size(); i++) {
      Entry e = tree.get(i);
      if (e.mountRoot()) {
        throw new IOException("refusing to delete " + root + ": " + e.path() + " is still mounted");
      }
      if (e.type() != S_IFDIR) {
        continue;
      }
      if (e.dev() != top.dev()) {
        throw new IOException("refusing to delete " + root + ": " + e.path() + " is a mount point of another filesystem");
      }
      try (DirectoryStream<Path> children = Files.newDirectoryStream(e.path())) {
        for (Path child : children) {
          Entry c = Entry.of(child, buf);
          if (c != null) { // gone meanwhile: nothing to delete
            tree.add(c);
          }
        }
      }
    }
    for (int i = tree.size() - 1; i >= (itself ? 0 : 1); i--) {
      tree.get(i).delete();
    }
  }

  /** A tree's entry as one statx(2) saw it, its own entry (a link is not followed). */
  private record Entry(Path path, int type, long dev, boolean mountRoot) {
    /** The entry at path, or null when nothing is there. */
    static Entry of(Path path, Pointer buf) throws IOException {
      if (LibC.INSTANCE.statx(AT_FDCWD, path.toString(), AT_SYMLINK_NOFOLLOW, Statx.BASIC_STATS, buf) != 0) {
        int errno = LibC.lastErrno();
        if (errno == ENOENT) {
          return null;
        }
        throw new IOException("cannot look at " + path + ": " + LibC.INSTANCE.strerror(errno) + " (errno " + errno + ")");
      }
      Boolean said = Statx.mountRoot(buf);
      boolean mountRoot = said != null ? said : MOUNTS.isMountPoint(path); // null: a kernel too old to say (before 5.8)
      return new Entry(path, Statx.type(buf), Statx.device(buf), mountRoot);
    }

    /** rmdir(2) or unlink(2) as its type says (Files.delete would lstat it again to know); gone already is fine. */
    void delete() throws IOException {
      boolean directory = type == S_IFDIR;
      if ((directory ? LibC.INSTANCE.rmdir(path.toString()) : LibC.INSTANCE.unlink(path.toString())) != 0) {
        int errno = LibC.lastErrno();
        if (errno == ENOENT) {
          return;
        }
        if (errno == ENOTEMPTY) {
          throw new DirectoryNotEmptyException(path.toString()); // something was made in it meanwhile
        }
        throw new IOException("cannot delete " + path + ": " + LibC.INSTANCE.strerror(errno) + " (errno " + errno + ")");
      }
    }
  }

  /**
   * Creates {@code dir} and any missing parent with {@code mode} (less the umask, as mkdir(2) does); a directory
   * already there is fine, anything else there (a file, a symbolic link) is an error. Blocking.
   */
  public static void create(Path dir, int mode) throws IOException {
    Path absolute = dir.toAbsolutePath();
    if (tryCreate(absolute, mode) == ENOENT) {
      Path parent = absolute.getParent();
      if (parent != null) {
        create(parent, mode);
        if (tryCreate(absolute, mode) == 0) {
          return;
        }
      }
      throw new IOException("cannot create directory " + absolute + ": " + LibC.lastError());
    }
  }

  /** 0 when the directory exists now, ENOENT when a parent is missing; throws on anything else. */
  private static int tryCreate(Path dir, int mode) throws IOException {
    if (LibC.INSTANCE.mkdir(dir.toString(), mode) == 0) {
      return 0;
    }
    int errno = LibC.lastErrno();
    if (errno == EEXIST) {
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        throw new FileAlreadyExistsException(dir.toString(), null, "exists and is not a directory");
      }
      return 0;
    }
    if (errno == ENOENT) {
      return ENOENT;
    }
    throw new IOException("cannot create directory " + dir + ": " + LibC.INSTANCE.strerror(errno) + " (errno " + errno + ")");
  }
}
