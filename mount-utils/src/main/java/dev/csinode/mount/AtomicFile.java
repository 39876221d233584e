package dev.csinode.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Crash-safe replacement of a small file: the content goes to a temp file in the same directory, which is
 * fsynced and renamed over the target, then the directory is fsynced; after a crash the target holds the old or
 * the new content, never part of one. Each replacement costs a new inode and frees the old one, so records that
 * change often belong in a {@link RecordLog} (which uses this only to compact). Blocking.
 */
public final class AtomicFile {
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private AtomicFile() {}

  public static void write(Path target, byte[] content) throws IOException {
    replace(target, content);
  }

  /** {@link #write}, the temp file (so the target) created with these attributes, e.g. {@link PrivateFiles#FILE}. */
  public static void write(Path target, byte[] content, FileAttribute<?> created) throws IOException {
    replace(target, content, created);
  }

  private static void replace(Path target, byte[] content, FileAttribute<?>... created) throws IOException {
    // A bare relative name ("report.xml") has no parent to sync: it lives in the working directory.
    target = target.toAbsolutePath();
    Path tmp = target.resolveSibling(target.getFileName() + "." + SEQUENCE.incrementAndGet() + ".tmp");
    try {
      try (FileChannel ch = openTemp(tmp, created)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
      dir.force(true); // makes the rename durable
    }
  }

  /** The directory is made only when missing: most callers write where they have just made it. */
  private static FileChannel openTemp(Path tmp, FileAttribute<?>... created) throws IOException {
    Set<StandardOpenOption> options = EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
    try {
      return FileChannel.open(tmp, options, created);
    } catch (NoSuchFileException e) {
      Directories.create(tmp.getParent(), 0777);
      return FileChannel.open(tmp, options, created);
    }
  }

  /**
   * Deletes the temp files a crash during a replacement can leave in dir (never the targets). Call at start-up,
   * before anything writes there.
   */
  public static void removeLeftovers(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (var files = Files.list(dir)) {
      for (Path p : files.filter(f -> f.getFileName().toString().endsWith(".tmp") && Files.isRegularFile(f)).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
