package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_EMPTY_PATH;
import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.AT_REMOVEDIR;
import static dev.csinode.mount.LibC.AT_SYMLINK_NOFOLLOW;
import static dev.csinode.mount.LibC.EACCES;
import static dev.csinode.mount.LibC.EEXIST;
import static dev.csinode.mount.LibC.EINTR;
import static dev.csinode.mount.LibC.EINVAL;
import static dev.csinode.mount.LibC.EISDIR;
import static dev.csinode.mount.LibC.ELOOP;
import static dev.csinode.mount.LibC.ENOENT;
import static dev.csinode.mount.LibC.ENOSYS;
import static dev.csinode.mount.LibC.ENOTDIR;
import static dev.csinode.mount.LibC.ENOTEMPTY;
import static dev.csinode.mount.LibC.EPERM;
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
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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
 *
 * <p>A path that is there is first opened in one openat2(2) from the root with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
 * (Linux 5.6): the kernel refuses the same links and escapes the walk does, in one call where the walk takes two a
 * component (15 % of the agent's CPU in a batch of pods went to the walk). Whatever that call refuses, or where it is
 * missing, is walked component by component as before, so what is made and every error are the walk's.
 */
public final class RootDir {
  private static final AtomicLong SEQUENCE = new AtomicLong();
  /** openat2(2): its number is the same on every architecture (the shared table), but LibC's flags are x86_64's. */
  private static final long SYS_OPENAT2 = 437;
  private static final long RESOLVE_NO_MAGICLINKS = 0x02;
  private static final long RESOLVE_NO_SYMLINKS = 0x04;
  private static final long RESOLVE_BENEATH = 0x08;
  /**
   * Not RESOLVE_NO_XDEV: volume directories are mount points, which the walk crosses too. NO_MAGICLINKS is implied by
   * NO_SYMLINKS; said anyway, as the guard against /proc/self/fd links that it is.
   */
  private static final long RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  /** struct open_how {flags, mode, resolve}: the walk's flags, so what opens is what the walk would have opened. */
  static final long[] HOW_DIRECTORY = {O_PATH | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY, 0, RESOLVE};
  static final long[] HOW_ANY = {O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, RESOLVE};
  private static final int NEW_FILE_MODE = 0666; // less the umask: what FileChannel.open made the records with
  /** Off in tests only, to compare the fast path with the walk it stands in for. */
  static volatile boolean fastPath = true;
  /** Set once openat2 is seen to be missing (ENOSYS) or refused by a seccomp filter (EPERM): not tried again. */
  private static volatile boolean openat2Unavailable = !"amd64".equals(System.getProperty("os.arch"));

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
      // Opened in the directory just opened (not walked again from the root), as the walk opens a last component.
      int opened = LibC.INSTANCE.openat(fd(dir), name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      if (opened < 0) {
        throw failure(fd(dir), name, beneathReal(path), errno());
      }
      PathHandle file = new PathHandle(this, path, opened);
      int type = kindOf(opened, "", AT_EMPTY_PATH);
      if (type != S_IFREG) {
        file.close();
        if (type == S_IFLNK) {
          throw new SymlinkRefusedException(beneathReal(path)); // O_PATH|O_NOFOLLOW opened the link itself
        }
        throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a regular file");
      }
      return file;
    }
  }

  /** What is at the path: missing (here or at a parent), a directory, a file or something else. */
  public Kind kind(Path path) throws IOException {
    if (relative(path).isEmpty()) {
      return Kind.DIRECTORY;
    }
    PathHandle dir;
    try {
      dir = openDirectory(parent(path));
    } catch (NoSuchFileException e) {
      return Kind.MISSING;
    }
    try (dir) {
      int type = kindOf(fd(dir), path.getFileName().toString(), AT_SYMLINK_NOFOLLOW);
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
    Path parent = parent(file);
    try (PathHandle dir = openDirectory(parent)) {
      // Created, written and renamed relative to the directory's descriptor: what naming it through /proc/self/fd
      // did, without the kernel looking up a magic link per call nor NIO's channel around three system calls.
      int d = fd(dir);
      String name = file.getFileName().toString();
      String tmp = name + "." + SEQUENCE.incrementAndGet() + ".tmp";
      try {
        int fd = LibC.INSTANCE.openat(d, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, NEW_FILE_MODE);
        if (fd < 0) {
          throw asNio(errno(), parent + "/" + tmp, null);
        }
        try {
          writeAll(fd, content, parent + "/" + tmp);
        } finally {
          if (LibC.INSTANCE.close(fd) != 0 && errno() != EINTR) {
            throw new FileSystemException(parent + "/" + tmp, null, strerror(errno()));
          }
        }
        if (LibC.INSTANCE.renameat(d, tmp, d, name) != 0) {
          throw asNio(errno(), parent + "/" + tmp, parent + "/" + name);
        }
      } catch (IOException | RuntimeException e) {
        // The temp file (or a stale one of that name, left by a crash) goes: a file or link only, never a directory.
        LibC.INSTANCE.unlinkat(d, tmp, 0);
        throw renamed(e);
      }
    }
  }

  /** The whole content, written in as many write(2) calls as it takes. */
  private static void writeAll(int fd, byte[] content, String file) throws FileSystemException {
    int done = 0;
    while (done < content.length) {
      byte[] rest = done == 0 ? content : Arrays.copyOfRange(content, done, content.length);
      long n = LibC.INSTANCE.write(fd, rest, rest.length);
      if (n < 0) {
        int errno = errno();
        if (errno == EINTR) {
          continue;
        }
        throw new FileSystemException(file, null, strerror(errno));
      }
      if (n == 0) { // not for a regular file; if ever, an error rather than a loop that never ends
        throw new FileSystemException(file, null, "write(2) wrote nothing");
      }
      done += (int) n;
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
      // unlinkat(2) first: what the agent deletes is mostly files and links; a directory answers EISDIR (Linux's
      // word for it since 2.1.132) and is removed as one, which the kernel refuses while it has entries or is mounted on.
      String name = path.getFileName().toString();
      int errno = LibC.INSTANCE.unlinkat(fd(dir), name, 0) == 0 ? 0 : errno();
      if (errno == EISDIR) {
        errno = LibC.INSTANCE.unlinkat(fd(dir), name, AT_REMOVEDIR) == 0 ? 0 : errno();
        if (errno == ENOTEMPTY || errno == EEXIST) {
          throw new DirectoryNotEmptyException(path.toString());
        }
      }
      if (errno == 0) {
        return true;
      }
      if (errno == ENOENT) {
        return false;
      }
      throw renamed(asNio(errno, path.toString(), null));
    }
  }

  /** Makes {@code link} a symbolic link to {@code target}, replacing a link there, never anything else. */
  public void symlink(Path link, Path target) throws IOException {
    try (PathHandle dir = openDirectory(parent(link))) {
      String name = link.getFileName().toString();
      int type = kindOf(fd(dir), name, AT_SYMLINK_NOFOLLOW);
      if (type == S_IFLNK) {
        if (LibC.INSTANCE.unlinkat(fd(dir), name, 0) != 0) {
          throw asNio(errno(), link.toString(), null);
        }
      } else if (type != -1) {
        throw new FileAlreadyExistsException(link.toString(), null, "exists and is not a symbolic link");
      }
      if (LibC.INSTANCE.symlinkat(target.toString(), fd(dir), name) != 0) {
        throw asNio(errno(), link.toString(), null);
      }
    }
  }

  // ------------------------------------------------------------------ the walk

  private PathHandle walk(Path path, boolean lastIsDirectory, boolean create, int mode) throws IOException {
    String relative = relative(path);
    int dir = LibC.INSTANCE.openat(AT_FDCWD, real.toString(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
    if (dir < 0) {
      throw new FileSystemException(real.toString(), null, "cannot open the root: " + strerror(errno()));
    }
    try {
      int from = 0; // where in relative the walk starts: past what the fast path found there (the root's own fd)
      if (!relative.isEmpty() && fastPath && !openat2Unavailable) {
        int fd = openBeneath(dir, relative, lastIsDirectory ? HOW_DIRECTORY : HOW_ANY);
        if (fd >= 0) {
          // A type that cannot be read (-1) is not taken for "no link": the walk decides.
          int type = lastIsDirectory ? S_IFDIR : kindOf(fd, "", AT_EMPTY_PATH);
          if (type != -1 && type != S_IFLNK) {
            return new PathHandle(this, path, fd);
          }
          LibC.INSTANCE.close(fd); // O_PATH|O_NOFOLLOW opened a link at the end: the walk below names it
        } else if (create && fd == -ENOENT) {
          // Something to make: the walk starts from the deepest directory there (found as the whole path was), so
          // only what is missing is made and opened component by component. Anything but ENOENT: the whole walk.
          for (int cut = relative.lastIndexOf('/'); cut > 0; cut = relative.lastIndexOf('/', cut - 1)) {
            int above = openBeneath(dir, relative.substring(0, cut), HOW_DIRECTORY);
            if (above >= 0) {
              LibC.INSTANCE.close(dir);
              dir = above;
              from = cut + 1;
              break;
            }
            if (above != -ENOENT) {
              break;
            }
          }
        }
      }
      List<String> names = split(relative, from);
      Path at = from == 0 ? real : real.resolve(relative.substring(0, from - 1));
      // Below a directory found missing (the fast path's) or just made here, what follows is missing too: made before
      // it is opened, as createBeneathParent does, sparing the open that would fail. One there after all (a race) is
      // EEXIST and opened as the walk opens it; a mkdirat failure stands only if the open finds nothing either.
      boolean missing = from > 0;
      for (int i = 0; i < names.size(); i++) {
        String name = names.get(i);
        at = at.resolve(name);
        boolean wantDirectory = lastIsDirectory || i < names.size() - 1;
        int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC | (wantDirectory ? O_DIRECTORY : 0);
        int fd;
        if (missing) {
          int made = LibC.INSTANCE.mkdirat(dir, name, mode) == 0 ? 0 : errno();
          fd = LibC.INSTANCE.openat(dir, name, flags, 0);
          if (fd < 0 && errno() == ENOENT && made != 0 && made != EEXIST) {
            throw failure(dir, name, at, made);
          }
          missing = made == 0;
        } else {
          fd = LibC.INSTANCE.openat(dir, name, flags, 0);
          if (fd < 0 && create && errno() == ENOENT) {
            int made = LibC.INSTANCE.mkdirat(dir, name, mode) == 0 ? 0 : errno();
            if (made != 0 && made != EEXIST) {
              throw failure(dir, name, at, made);
            }
            missing = made == 0;
            fd = LibC.INSTANCE.openat(dir, name, flags, 0);
          }
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

  /**
   * openat2(2) of {@code relative} beneath {@code root}: a descriptor, or minus the errno. No link is followed, the
   * last one included (O_PATH|O_NOFOLLOW opens a link there itself, as openat does), and nothing outside the root is
   * reached, ".." or an absolute link included: the kernel's refusals, each of which sends the caller to the walk.
   */
  static int openBeneath(int root, String relative, long[] how) {
    long fd = LibC.INSTANCE.syscall(SYS_OPENAT2, root, relative, how, 8L * how.length);
    if (fd >= 0) {
      return (int) fd;
    }
    int errno = errno();
    if (errno == ENOSYS || errno == EPERM) {
      // No openat2 (before Linux 5.6), or a seccomp filter that refuses it: O_PATH cannot be EPERM otherwise.
      openat2Unavailable = true;
    }
    return errno > 0 ? -errno : -EINVAL; // never 0, which a caller would take for a descriptor
  }

  /** Whether the walk's fast path runs here (tests need to know that they compare it, and with what). */
  static boolean openat2Available() {
    if (!openat2Unavailable) {
      int fd = openBeneath(AT_FDCWD, ".", HOW_DIRECTORY);
      if (fd >= 0) {
        LibC.INSTANCE.close(fd);
      }
    }
    return !openat2Unavailable;
  }

  /**
   * The path below the root, without a leading slash ("" for the root itself); a path outside it, or with
   * {@code .}/{@code ..} segments, is refused. Taken from the path's string, which a Path keeps: walking the Path
   * makes a Path and a String per segment, and every stage, publish and teardown walks a few paths (a tenth of what
   * a churn of pods allocated).
   */
  private String relative(Path path) throws IOException {
    if (!path.isAbsolute()) {
      throw new FileSystemException(path.toString(), null, "is not an absolute path");
    }
    refuseDotSegments(path, path);
    Path base = path.startsWith(real) ? real : path.startsWith(given) ? given : null;
    if (base == null) {
      throw new FileSystemException(path.toString(), null, "is not beneath " + real + "; refused");
    }
    String s = path.toString();
    int from = base.toString().length();
    while (from < s.length() && s.charAt(from) == '/') {
      from++;
    }
    return s.substring(from);
  }

  /** The names of {@code relative} from index {@code from} on (a Path has no empty segment). */
  private static List<String> split(String relative, int from) {
    List<String> out = new ArrayList<>();
    for (String name : relative.substring(from).split("/")) {
      if (!name.isEmpty()) {
        out.add(name);
      }
    }
    return out;
  }

  /** The path as the walk names it in its errors: beneath the resolved root, whichever root it was given under. */
  private Path beneathReal(Path path) throws IOException {
    String relative = relative(path);
    return relative.isEmpty() ? real : real.resolve(relative);
  }

  /**
   * A {@code .} or {@code ..} among the segments of the absolute {@code path} is refused, naming it as it was
   * {@code given}. Looked for in the path's string (a Path has no empty segment and no trailing slash, so a segment
   * is what stands between slashes), not segment by segment: see {@link #relative}.
   */
  private static void refuseDotSegments(Path path, Path given) throws FileSystemException {
    String s = path.toString();
    if (s.contains("/./") || s.contains("/../") || s.endsWith("/.") || s.endsWith("/..")) {
      throw new FileSystemException(given.toString(), null, "has a '.' or '..' segment; refused");
    }
  }

  private Path parent(Path path) throws IOException {
    if (relative(path).isEmpty()) {
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

  /**
   * The exception java.nio throws for a failed call on {@code file} (and {@code other}, a rename's target): the
   * types and messages of sun.nio.fs.UnixException, which callers saw when these calls went through java.nio.
   */
  private static FileSystemException asNio(int errno, String file, String other) {
    return switch (errno) {
      case EACCES -> new AccessDeniedException(file, other, null);
      case ENOENT -> new NoSuchFileException(file, other, null);
      case EEXIST -> new FileAlreadyExistsException(file, other, null);
      case ELOOP -> new FileSystemException(file, other, strerror(errno) + " or unable to access attributes of symbolic link");
      default -> new FileSystemException(file, other, strerror(errno));
    };
  }

  /**
   * What writeFile and delete have always thrown: the message kept, the type narrowed to the three callers tell
   * apart (when the calls named the directory through /proc/self/fd, this put the path asked for back in).
   */
  private static IOException renamed(Exception e) {
    String msg = e.getMessage() == null ? e.toString() : e.getMessage();
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
