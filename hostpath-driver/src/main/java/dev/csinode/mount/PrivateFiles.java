package dev.csinode.mount;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * State only its owner may read (records of pushed Secrets among them): directories 0700, files 0600, made so
 * when created, never widened afterwards, so there is no moment in which another user could open them.
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
   * usual: they are not the private state's (a kubelet root, a plugin's directory). Blocking.
   */
  public static Path createDirectory(Path dir) throws IOException {
    if (Files.isDirectory(dir)) {
      return dir;
    }
    Files.createDirectories(dir.toAbsolutePath().getParent());
    try {
      return Files.createDirectory(dir, DIRECTORY);
    } catch (java.nio.file.FileAlreadyExistsException e) {
      if (Files.isDirectory(dir)) {
        return dir; // made meanwhile
      }
      throw e;
    }
  }

  /**
   * Makes every directory below {@code top} (itself included) 0700 and every regular file 0600, without following
   * symlinks; what {@code leave} accepts is left as it is, with everything below it. Logs once what it narrowed.
   * Returns how many it narrowed. Blocking.
   */
  public static int restrict(Path top, Predicate<Path> leave) throws IOException {
    if (!Files.isDirectory(top, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    int[] narrowed = {0};
    Files.walkFileTree(top, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        if (!dir.equals(top) && leave.test(dir)) {
          return FileVisitResult.SKIP_SUBTREE;
        }
        narrow(dir, DIRECTORY_MODE);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        if (attrs.isRegularFile() && !leave.test(file)) {
          narrow(file, FILE_MODE);
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) {
        LOG.warn("cannot check the mode of {}: {}", file, e.getMessage());
        return FileVisitResult.CONTINUE;
      }

      private void narrow(Path p, Set<PosixFilePermission> mode) throws IOException {
        if (!Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS).equals(mode)) {
          Files.setPosixFilePermissions(p, mode);
          narrowed[0]++;
        }
      }
    });
    if (narrowed[0] > 0) {
      LOG.warn("{} files and directories under {} had other modes than 0600/0700 (readable by others, possibly); "
          + "they were made private", narrowed[0], top);
    }
    return narrowed[0];
  }
}
