package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_EMPTY_PATH;
import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.AT_SYMLINK_NOFOLLOW;
import static dev.csinode.mount.LibC.EEXIST;
import static dev.csinode.mount.LibC.ENOENT;
import static dev.csinode.mount.LibC.ENOTDIR;
import static dev.csinode.mount.LibC.O_CLOEXEC;
import static dev.csinode.mount.LibC.O_CREAT;
import static dev.csinode.mount.LibC.O_DIRECTORY;
import static dev.csinode.mount.LibC.O_EXCL;
import static dev.csinode.mount.LibC.O_NOFOLLOW;
import static dev.csinode.mount.LibC.O_NONBLOCK;
import static dev.csinode.mount.LibC.O_PATH;
import static dev.csinode.mount.LibC.O_WRONLY;
import static dev.csinode.mount.Statx.S_IFDIR;
import static dev.csinode.mount.Statx.S_IFLNK;
import static dev.csinode.mount.Statx.S_IFMT;
import static dev.csinode.mount.Statx.S_IFREG;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.Pointer;

/**
 * A directory (the kubelet root) beneath which nothing is ever reached through a symbolic link. The root itself is
 * resolved once, when this is made ({@code /var/lib/kubelet} pointing to a data disk is common); every component
 * below it is opened with {@code openat(O_NOFOLLOW)} relative to the one before, created with {@code mkdirat}, and
 * held as an O_PATH descriptor ({@link PathHandle}) that mounts and file changes go through. A link anywhere below
 * the root is a {@link SymlinkRefusedException} naming it; a file where a directory belongs is a
 * {@link NotDirectoryException}; a path with {@code .} or {@code ..} segments or outside the root is refused.
 * Blocking.
 */
public final class RootDir {
  private static final AtomicLong SEQUENCE = new AtomicLong();

  /** What is at a path beneath the root, found without following a link (a link is an exception, not a kind). */
  public enum Kind { MISSING, DIRECTORY, FILE, OTHER }

  private final Path given;
  private final Path real;

  private RootDir(Path given, Path real) {
    this.given = given;
    this.real = real;
  }

  /**
   * Resolves the root's own symbolic links, once; it must exist. The kernel resolves it in one open(2) and names what
   * it reached ({@code /proc/self/fd/N}), where {@link Path#toRealPath} takes a readlink(2) per component (a driver
   * resolves a ~10-component kubelet directory for every stage and publish). Without /proc, or on any failure (for
   * its message), it is the JDK's walk.
   */
  public static RootDir resolve(Path root) throws IOException {
    Path given = root.toAbsolutePath().normalize();
    Path real = realDirectory(given);
    if (real == null) {
      real = given.toRealPath();
      if (!Files.isDirectory(real)) {
        throw new NotDirectoryException(given.toString());
      }
    }
    return new RootDir(given, real);
  }

  /** The directory's path with its links resolved, through its descriptor; null when that cannot say. */
  private static Path realDirectory(Path dir) {
    int fd = LibC.INSTANCE.openat(AT_FDCWD, dir.toString(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) {
      return null;
    }
    try {
      Path named = Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd));
      // A directory removed meanwhile reads "... (deleted)"; one outside this process's root is not absolute.
      String s = named.toString();
      return named.isAbsolute() && !s.endsWith(" (deleted)") ? named : null;
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    } finally {
      LibC.INSTANCE.close(fd);
    }
  }

  /**
   * Whether the path's own entry is a symbolic link (not followed; false when nothing is there or it cannot be
   * looked at), as {@link Files#isSymbolicLink} answers, in one statx(2) and without its exception: on JDK 17 a
   * missing path, which a CSI staging or target path is before its first use, costs a NoSuchFileException with its
   * stack trace (most of 12 % of the bundled driver's worker CPU in a volume's life, measured with async-profiler).
   */
  public static boolean isSymbolicLink(Path path) {
    return kindOf(AT_FDCWD, path.toString(), AT_SYMLINK_NOFOLLOW) == S_IFLNK;
  }

  /**
   * Opens, making it if missing, the directory (or, with {@code directory} false, the empty regular file) at
   * {@code path}, never following a link there: a CSI staging or target path. Its parent is the CO's: made if
   * missing (as {@link Directories#create} makes it, {@code parentMode}), reached through any link above it, but
   * itself not a link. Unlike {@link #resolve} and {@link #createDirectories}, the parent is opened once
   * (open(O_PATH|O_DIRECTORY|O_NOFOLLOW)) and the entry made and opened relative to it, without naming the parent
   * through /proc or opening it again: 4 system calls where a driver's stage or publish took 10. A link at the path
   * is a {@link SymlinkRefusedException}, something else than asked for a {@link NotDirectoryException} (a file
   * where a directory belongs) or a {@link FileAlreadyExistsException}; a link or file at the parent is a
   * {@link FileAlreadyExistsException} naming it.
   */
  public static PathHandle createBeneathParent(Path path, boolean directory, int mode, int parentMode) throws IOException {
    Path absolute = path.toAbsolutePath();
    Path parent = absolute.getParent();
    if (parent == null) {
      throw new FileSystemException(path.toString(), null, "has no parent directory");
    }
    refuseDotSegments(absolute, path);
    int dir = openParent(parent);
    if (dir < 0) {
      Directories.create(parent, parentMode); // missing (the common first publish on a node) or in the way: says which
      dir = openParent(parent);
      if (dir < 0) {
        throw new FileSystemException(parent.toString(), null, "cannot open: " + strerror(errno()));
      }
    }
    try {
      String name = absolute.getFileName().toString();
      if (directory) {
        // Made first: the path is new on every first stage or publish, and one that is there costs the same 2 calls.
        if (LibC.INSTANCE.mkdirat(dir, name, mode) != 0 && errno() != EEXIST) {
          throw failure(dir, name, absolute, errno());
        }
      } else {
        int fd = LibC.INSTANCE.openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0) {
          LibC.INSTANCE.close(fd);
        } else if (errno() != EEXIST) {
          throw failure(dir, name, absolute, errno());
        }
      }
      int fd = LibC.INSTANCE.openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | (directory ? O_DIRECTORY : 0), 0);
      if (fd < 0) {
        throw failure(dir, name, absolute, errno());
      }
      // For PathHandle#reopen only (the old mount API): a root at the parent, opened as this was (its links followed).
      PathHandle handle = new PathHandle(new RootDir(parent, parent), absolute, fd);
      int type = directory ? S_IFDIR : kindOf(fd, "", AT_EMPTY_PATH);
      if (type != (directory ? S_IFDIR : S_IFREG)) {
        handle.close();
        if (type == S_IFLNK) {
          throw new SymlinkRefusedException(absolute); // O_PATH|O_NOFOLLOW opened the link itself
        }
        throw new FileAlreadyExistsException(absolute.toString(), null, "exists and is not a regular file");
      }
      return handle;
    } finally {
      LibC.INSTANCE.close(dir);
    }
  }

  /** The parent of a staging or target path, its own entry not followed; -1 when missing or not a directory. */
  private static int openParent(Path parent) {
    return LibC.INSTANCE.openat(AT_FDCWD, parent.toString(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
  }

  /** The resolved root: paths built on it are the ones the kernel shows (in the mount table, for instance). */
  public Path path() {
    return real;
  }

  /** The root as configured, before its links were resolved (older records may hold paths beneath it). */
  public Path given() {
    return given;
  }

  /** Opens an existing directory or file (for a file, the parent's components must be directories). */
  public PathHandle open(Path path) throws IOException {
    return walk(path, false, false, 0);
  }

  /** Opens an existing directory. */
  public PathHandle openDirectory(Path path) throws IOException {
    return walk(path, true, false, 0);
  }

  /** {@code mkdir -p} beneath the root ({@code mode} less the umask for what is made); returns the last directory. */
  public PathHandle createDirectories(Path path, int mode) throws IOException {
    return walk(path, true, true, mode);
  }

  /** Creates an empty regular file if nothing is there (its directory must exist); returns it, or what is there if a file. */
  public PathHandle createFile(Path path, int mode) throws IOException {
    try (PathHandle dir = openDirectory(parent(path))) {
      String name = path.getFileName().toString();
      int fd = LibC.INSTANCE.openat(fd(dir), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd >= 0) {
        LibC.INSTANCE.close(fd);
      } else if (errno() != EEXIST) {
        throw failure(fd(dir), name, path, errno());
      }
      PathHandle file = walk(path, false, false, 0);
      if (kindOf(fd(file), "", AT_EMPTY_PATH) != S_IFREG) {
        file.close();
        throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a regular file");
      }
      return file;
    }
  }

  /** What is at the path: missing (here or at a parent), a directory, a file or something else. */
  public Kind kind(Path path) throws IOException {
    List<String> names = components(path);
    if (names.isEmpty()) {
      return Kind.DIRECTORY;
    }
    PathHandle dir;
    try {
      dir = openDirectory(parent(path));
    } catch (NoSuchFileException e) {
      return Kind.MISSING;
    }
    try (dir) {
      int type = kindOf(fd(dir), names.get(names.size() - 1), AT_SYMLINK_NOFOLLOW);
      return switch (type) {
        case -1 -> Kind.MISSING;
        case S_IFDIR -> Kind.DIRECTORY;
        case S_IFREG -> Kind.FILE;
        case S_IFLNK -> throw new SymlinkRefusedException(path);
        default -> Kind.OTHER;
      };
    }
  }

  /**
   * Replaces a file atomically in a directory that must exist (a temp file created there with O_EXCL, renamed over
   * the target), without flushing: for records of mounts, which a reboot ends anyway.
   */
  public void writeFile(Path file, byte[] content) throws IOException {
    try (PathHandle dir = openDirectory(parent(file))) {
      Path at = dir.procPath();
      Path tmp = at.resolve(file.getFileName() + "." + SEQUENCE.incrementAndGet() + ".tmp");
      try {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
          ByteBuffer buf = ByteBuffer.wrap(content);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
        }
        Files.move(tmp, at.resolve(file.getFileName().toString()), StandardCopyOption.ATOMIC_MOVE);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(tmp);
        throw rename(e, at, parent(file));
      }
    }
  }

  /**
   * A regular file's content (at most 1 MiB: these are small records), or empty when it (or a directory above it)
   * is missing. Opened without blocking, so a FIFO put in its place cannot hang the reader.
   */
  public Optional<byte[]> readFile(Path file) throws IOException {
    PathHandle dir;
    try {
      dir = openDirectory(parent(file));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try (dir) {
      String name = file.getFileName().toString();
      int fd = LibC.INSTANCE.openat(fd(dir), name, O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);
      if (fd < 0) {
        int errno = errno();
        if (errno == ENOENT) {
          return Optional.empty();
        }
        throw failure(fd(dir), name, file, errno);
      }
      try {
        if (kindOf(fd, "", AT_EMPTY_PATH) != S_IFREG) {
          throw new FileSystemException(file.toString(), null, "is not a regular file");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[8192];
        long got;
        while ((got = LibC.INSTANCE.read(fd, chunk, chunk.length)) > 0 && out.size() < (1 << 20)) {
          out.write(chunk, 0, (int) got);
        }
        if (got < 0) {
          throw new FileSystemException(file.toString(), null, "cannot be read: " + strerror(errno()));
        }
        return Optional.of(out.toByteArray());
      } finally {
        LibC.INSTANCE.close(fd);
      }
    }
  }

  /**
   * Removes the entry itself (a file, a link, never what a link points to) or an empty directory; false when it
   * was not there. A directory that is not empty stays ({@link DirectoryNotEmptyException}).
   */
  public boolean delete(Path path) throws IOException {
    PathHandle dir;
    try {
      dir = openDirectory(parent(path));
    } catch (NoSuchFileException e) {
      return false;
    }
    try (dir) {
      try {
        return Files.deleteIfExists(dir.procPath().resolve(path.getFileName().toString()));
      } catch (IOException e) {
        throw rename(e, dir.procPath(), parent(path));
      }
    }
  }

  /** Makes {@code link} a symbolic link to {@code target}, replacing a link there, never anything else. */
  public void symlink(Path link, Path target) throws IOException {
    try (PathHandle dir = openDirectory(parent(link))) {
      String name = link.getFileName().toString();
      int type = kindOf(fd(dir), name, AT_SYMLINK_NOFOLLOW);
      Path at = dir.procPath().resolve(name);
      if (type == S_IFLNK) {
        Files.delete(at);
      } else if (type != -1) {
        throw new FileAlreadyExistsException(link.toString(), null, "exists and is not a symbolic link");
      }
      Files.createSymbolicLink(at, target);
    }
  }

  // ------------------------------------------------------------------ the walk

  private PathHandle walk(Path path, boolean lastIsDirectory, boolean create, int mode) throws IOException {
    List<String> names = components(path);
    int dir = LibC.INSTANCE.openat(AT_FDCWD, real.toString(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (dir < 0) {
      throw new FileSystemException(real.toString(), null, "cannot open the root: " + strerror(errno()));
    }
    Path at = real;
    try {
      for (int i = 0; i < names.size(); i++) {
        String name = names.get(i);
        at = at.resolve(name);
        boolean wantDirectory = lastIsDirectory || i < names.size() - 1;
        int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (wantDirectory ? O_DIRECTORY : 0);
        int fd = LibC.INSTANCE.openat(dir, name, flags, 0);
        if (fd < 0 && create && errno() == ENOENT) {
          if (LibC.INSTANCE.mkdirat(dir, name, mode) != 0 && errno() != EEXIST) {
            throw failure(dir, name, at, errno());
          }
          fd = LibC.INSTANCE.openat(dir, name, flags, 0);
        }
        if (fd < 0) {
          throw failure(dir, name, at, errno());
        }
        LibC.INSTANCE.close(dir);
        dir = fd;
        if (!wantDirectory && kindOf(fd, "", AT_EMPTY_PATH) == S_IFLNK) {
          throw new SymlinkRefusedException(at); // O_PATH|O_NOFOLLOW opened the link itself
        }
      }
      PathHandle handle = new PathHandle(this, path, dir);
      dir = -1;
      return handle;
    } finally {
      if (dir >= 0) {
        LibC.INSTANCE.close(dir);
      }
    }
  }

  /** The names below the root; a path outside it, or with {@code .}/{@code ..} segments, is refused. */
  private List<String> components(Path path) throws IOException {
    if (!path.isAbsolute()) {
      throw new FileSystemException(path.toString(), null, "is not an absolute path");
    }
    refuseDotSegments(path, path);
    Path base = path.startsWith(real) ? real : path.startsWith(given) ? given : null;
    if (base == null) {
      throw new FileSystemException(path.toString(), null, "is not beneath " + real + "; refused");
    }
    // Split from the path's string, which a Path keeps: walking the Path makes a Path and a String per segment, and
    // every stage, publish and teardown walks a few paths (a tenth of what a churn of pods allocated).
    List<String> out = new ArrayList<>();
    for (String name : path.toString().substring(base.toString().length()).split("/")) {
      if (!name.isEmpty()) {
        out.add(name);
      }
    }
    return out;
  }

  /**
   * A {@code .} or {@code ..} among the segments of the absolute {@code path} is refused, naming it as it was
   * {@code given}. Looked for in the path's string (a Path has no empty segment and no trailing slash, so a segment
   * is what stands between slashes), not segment by segment: see {@link #components}.
   */
  private static void refuseDotSegments(Path path, Path given) throws FileSystemException {
    String s = path.toString();
    if (s.contains("/./") || s.contains("/../") || s.endsWith("/.") || s.endsWith("/..")) {
      throw new FileSystemException(given.toString(), null, "has a '.' or '..' segment; refused");
    }
  }

  private Path parent(Path path) throws IOException {
    if (components(path).isEmpty()) {
      throw new FileSystemException(path.toString(), null, "is the root itself");
    }
    return path.getParent();
  }

  /** Why opening {@code name} in {@code dir} failed, naming the path: a link is reported as a link. */
  private static IOException failure(int dir, String name, Path at, int errno) {
    int type = kindOf(dir, name, AT_SYMLINK_NOFOLLOW);
    if (type == S_IFLNK) {
      return new SymlinkRefusedException(at);
    }
    if (errno == ENOENT || type == -1) {
      return new NoSuchFileException(at.toString());
    }
    if (errno == ENOTDIR) {
      return new NotDirectoryException(at.toString());
    }
    return new FileSystemException(at.toString(), null, strerror(errno) + " (errno " + errno + ")");
  }

  /** The S_IFMT bits of what is there, or -1 when nothing is. */
  private static int kindOf(int dir, String name, int flags) {
    Pointer buf = Statx.buffer();
    if (LibC.INSTANCE.statx(dir, name, flags, Statx.TYPE, buf) != 0) {
      return -1;
    }
    return Statx.type(buf);
  }

  /** Messages name the path asked for, not the /proc/self/fd path the call went through. */
  private static IOException rename(Exception e, Path at, Path dir) {
    String msg = e.getMessage() == null ? e.toString() : e.getMessage().replace(at.toString(), dir.toString());
    if (e instanceof DirectoryNotEmptyException) {
      return new DirectoryNotEmptyException(msg);
    }
    if (e instanceof NoSuchFileException) {
      return new NoSuchFileException(msg);
    }
    return new FileSystemException(msg);
  }

  private static int fd(PathHandle h) {
    return h.fd();
  }

  private static int errno() {
    return LibC.lastErrno();
  }

  private static String strerror(int errno) {
    return LibC.INSTANCE.strerror(errno);
  }

  @Override
  public String toString() {
    return real.toString();
  }
}
