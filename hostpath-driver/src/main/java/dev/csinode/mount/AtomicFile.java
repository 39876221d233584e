package dev.csinode.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Crash-safe replacement of small files: a temp file in the same directory is written and fsynced, renamed over
 * the target, then the directory is fsynced, so after a crash the target holds either the old or the new content,
 * never part of one. Blocking: call from worker threads.
 */
public final class AtomicFile {
  private AtomicFile() {}

  public static void write(Path target, byte[] content) throws IOException {
    writeAll(target.getParent(), Map.of(target.getFileName().toString(), content));
  }

  /** Several files of one directory, with a single directory fsync at the end. */
  public static void writeAll(Path dir, Map<String, byte[]> contents) throws IOException {
    Files.createDirectories(dir);
    for (Map.Entry<String, byte[]> e : contents.entrySet()) {
      Path tmp = dir.resolve(e.getKey() + ".tmp");
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(e.getValue());
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        ch.force(true);
      }
      Files.move(tmp, dir.resolve(e.getKey()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    fsyncDirectory(dir);
  }

  /** Makes renames and deletions in the directory durable. */
  public static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }
}
