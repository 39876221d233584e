package dev.csinode.mount;

import static dev.csinode.mount.LibC.AT_EMPTY_PATH;
import static dev.csinode.mount.LibC.AT_FDCWD;
import static dev.csinode.mount.LibC.ENOENT;
import static dev.csinode.mount.LibC.O_CLOEXEC;
import static dev.csinode.mount.LibC.O_NOFOLLOW;
import static dev.csinode.mount.LibC.O_PATH;
import static dev.csinode.mount.Statx.S_IFDIR;
import static dev.csinode.mount.Statx.S_IFMT;
import static dev.csinode.mount.Statx.S_IFREG;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import jnr.ffi.Pointer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * State only its owner may read (records of pushed Secrets among them): directories 0700, files 0600, made so
 * when created, so there is no moment in which another user could open them; found wider at start, group and
 * other permissions are taken away (never widened).
 */
public final class PrivateFiles {
  private static final Logger LOG = LoggerFactory.getLogger(PrivateFiles.class);
  public static final Set<PosixFilePermission> DIRECTORY_MODE = PosixFilePermissions.fromString("rwx------");
  public static final Set<PosixFilePermission> FILE_MODE = PosixFilePermissions.fromString("rw-------");
  public static final FileAttribute<Set<PosixFilePermission>> FILE = PosixFilePermissions.asFileAttribute(FILE_MODE);
  private static final FileAttribute<Set<PosixFilePermission>> DIRECTORY = PosixFilePermissions.asFileAttribute(DIRECTORY_MODE);


  private PrivateFiles() {}

  /**
   * Creates dir 0700 (the umask can only narrow that) when missing; directories missing above it are made as
   * usual: they are not the private state's (a kubelet root, a plugin's directory). A symbolic link at {@code dir}
   * is refused ({@link SymlinkRefusedException}), not followed: the records would be written wherever it points.
   * Blocking.
   */
  public static Path createDirectory(Path dir) throws IOException {
    if (existingDirectory(dir)) {
      return dir;
    }
    Files.createDirectories(dir.toAbsolutePath().getParent());
    try {
      return Files.createDirectory(dir, DIRECTORY);
    } catch (FileAlreadyExistsException e) {
      if (existingDirectory(dir)) {
        return dir; // made meanwhile
      }
      throw new NotDirectoryException(dir.toString());
    }
  }

  /** True for a directory, false when nothing is there; a link is refused. */
  private static boolean existingDirectory(Path dir) throws IOException {
    if (Files.isSymbolicLink(dir)) {
      throw new SymlinkRefusedException(dir);
    }
    return Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS);
  }

  /**
   * Creates (0700) or opens each of {@code dirs} beneath {@code root}, none of them reached through a link: a link
   * is a {@link SymlinkRefusedException} naming it, a file a {@link java.nio.file.NotDirectoryException}. Blocking.
   */
  public static void createDirectories(RootDir root, Path... dirs) throws IOException {
    for (Path dir : dirs) {
      root.createDirectories(dir, 0700).close();
    }
  }

  /**
   * Takes every permission of group and others away from {@code top} (opened beneath {@code root} without
   * following a link) and from every directory and regular file below it; the owner's bits are kept as they are,
   * so nothing is ever widened. Symbolic links are neither followed nor changed; what {@code leave} accepts is left
   * as it is, with everything below it. Each entry is opened {@code O_PATH|O_NOFOLLOW} relative to its directory's
   * descriptor and changed through that descriptor: an entry swapped for a link meanwhile cannot send the change
   * elsewhere. Logs once what it narrowed. Returns how many it narrowed. Blocking.
   */
  public static int restrict(RootDir root, Path top, Predicate<Path> leave) throws IOException {
    int[] narrowed = {0};
    try (PathHandle handle = root.openDirectory(top)) {
      restrictTree(handle.fd(), top, leave, narrowed);
    }
    if (narrowed[0] > 0) {
      LOG.warn("{} files and directories under {} could be read or changed by others; group and other permissions "
          + "were taken away", narrowed[0], top);
    }
    return narrowed[0];
  }

  /** Narrows the directory open as {@code dirFd} and what is below it. */
  private static void restrictTree(int dirFd, Path at, Predicate<Path> leave, int[] narrowed) throws IOException {
    narrow(dirFd, at, narrowed);
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc/self/fd/" + dirFd))) {
      entries.forEach(e -> names.add(e.getFileName().toString()));
    } catch (IOException e) {
      LOG.warn("cannot list {} to check its modes: {}", at, e.getMessage());
      return;
    }
    for (String name : names) {
      Path p = at.resolve(name);
      int fd = LibC.INSTANCE.openat(dirFd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
      if (fd < 0) {
        int errno = LibC.lastErrno();
        if (errno != ENOENT) { // gone meanwhile: nothing to narrow
          LOG.warn("cannot check the mode of {}: {}", p, LibC.INSTANCE.strerror(errno));
        }
        continue;
      }
      try {
        int type = mode(fd, p) & S_IFMT;
        if (type == S_IFDIR && !leave.test(p)) {
          restrictTree(fd, p, leave, narrowed);
        } else if (type == S_IFREG && !leave.test(p)) {
          narrow(fd, p, narrowed);
        } // a link (O_PATH|O_NOFOLLOW opened the link itself), a socket, a device: left as it is
      } finally {
        LibC.INSTANCE.close(fd);
      }
    }
  }

  /** Takes group and other bits away from what {@code fd} (not a link) is open on. */
  private static void narrow(int fd, Path p, int[] narrowed) throws IOException {
    int mode = mode(fd, p) & 07777;
    if ((mode & 077) == 0) {
      return;
    }
    // fchmod does not take an O_PATH descriptor; its /proc/self/fd link resolves to this very inode.
    if (LibC.INSTANCE.fchmodat(AT_FDCWD, "/proc/self/fd/" + fd, mode & ~077, 0) != 0) {
      throw new FileSystemException(p.toString(), null, "cannot take group and other permissions away: "
          + LibC.INSTANCE.strerror(LibC.lastErrno()));
    }
    narrowed[0]++;
  }

  /** st_mode of what {@code fd} is open on (the link itself for a link). */
  private static int mode(int fd, Path p) throws IOException {
    Pointer buf = Statx.buffer();
    if (LibC.INSTANCE.statx(fd, "", AT_EMPTY_PATH, Statx.TYPE_AND_MODE, buf) != 0) {
      throw new FileSystemException(p.toString(), null, "cannot read its mode: " + LibC.INSTANCE.strerror(LibC.lastErrno()));
    }
    return Statx.mode(buf);
  }
}
