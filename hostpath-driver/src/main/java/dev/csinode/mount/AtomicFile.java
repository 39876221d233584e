package dev.csinode.mount;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Crash-safe replacement and deletion of small files: the content goes to a temp file in the same directory,
 * which is fsynced and renamed over the target, then the directory is fsynced; after a crash the target holds
 * the old or the new content, never part of one.
 *
 * <p>Group commit: every call joins a queue that one committer thread works off in batches: all temp files of
 * a batch are written first, then flushed together (one syncfs for a large batch), renamed in the order they
 * were asked for, and each directory is fsynced once (the first of those commits all the renames). A thousand volumes changing at once cost a few disk flushes instead of thousands, and a
 * caller still returns only once its file is durable. Blocking: call from worker threads.
 */
public final class AtomicFile {
  private static final int MAX_BATCH = 512;
  /**
   * From this many files in a batch, one syncfs(2) flushes them all. On ext4 each fsync of a freshly written file
   * allocates its blocks and commits the journal on its own (a thousand files, a thousand commits); syncfs does it
   * once. Below it, per-file fsync: syncfs also flushes whatever else is dirty on that filesystem.
   */
  static final int SYNCFS_FROM = 8;
  private static final int O_RDONLY = 0;
  private static final int O_DIRECTORY = 0200000;
  private static final Committer COMMITTER = new Committer();

  private AtomicFile() {}

  public static void write(Path target, byte[] content) throws IOException {
    COMMITTER.submit(List.of(new Op(target, content)));
  }

  /**
   * Replaces the file atomically (temp file and rename) without flushing it to disk: the new content survives a
   * crash of this process, not necessarily a power loss. For records of what is mounted, which a reboot makes
   * moot anyway (nothing is mounted after one), and which must not cost a disk flush per mount.
   */
  public static void writeUntilReboot(Path target, byte[] content) throws IOException {
    Files.createDirectories(target.getParent());
    Path tmp = target.resolveSibling(target.getFileName() + "." + COMMITTER.sequence.incrementAndGet() + ".tmp");
    Files.write(tmp, content);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Several files of one directory, committed together. */
  public static void writeAll(Path dir, Map<String, byte[]> contents) throws IOException {
    List<Op> ops = new ArrayList<>();
    contents.forEach((name, content) -> ops.add(new Op(dir.resolve(name), content)));
    COMMITTER.submit(ops);
  }

  /** Deletes the file, if it exists, durably (its directory is fsynced). */
  public static void delete(Path target) throws IOException {
    COMMITTER.submit(List.of(new Op(target, null)));
  }

  private static void syncfs(Path onFilesystem) throws IOException {
    int fd = LibC.INSTANCE.open(onFilesystem.toString(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      throw new IOException("cannot open " + onFilesystem + " to flush its filesystem: " + LibC.lastError());
    }
    try {
      if (LibC.INSTANCE.syncfs(fd) != 0) {
        throw new IOException("syncfs of the filesystem of " + onFilesystem + " failed: " + LibC.lastError());
      }
    } finally {
      LibC.INSTANCE.close(fd);
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

  /** Makes renames and deletions in the directory durable. */
  public static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /** A file to write ({@code content}) or delete ({@code content == null}). */
  private record Op(Path target, byte[] content) {}

  private record Request(List<Op> ops, CompletableFuture<Void> done) {}

  private static final class Committer {
    private final LinkedBlockingQueue<Request> queue = new LinkedBlockingQueue<>();
    private final AtomicLong sequence = new AtomicLong();
    private Thread thread;

    void submit(List<Op> ops) throws IOException {
      if (ops.isEmpty()) {
        return;
      }
      Request r = new Request(ops, new CompletableFuture<>());
      start();
      queue.add(r);
      try {
        r.done().get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while waiting for " + ops.get(0).target() + " to be written", e);
      } catch (ExecutionException e) {
        throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause().getMessage(), e.getCause());
      }
    }

    private synchronized void start() {
      if (thread == null) {
        thread = new Thread(this::run, "atomic-file-commit");
        thread.setDaemon(true);
        thread.start();
      }
    }

    private void run() {
      List<Request> batch = new ArrayList<>();
      while (true) {
        try {
          batch.add(queue.take());
        } catch (InterruptedException e) {
          return;
        }
        queue.drainTo(batch, MAX_BATCH - 1);
        commit(batch);
        batch.clear();
      }
    }

    private void commit(List<Request> batch) {
      List<Request> ok = new ArrayList<>();
      List<Path[]> renames = new ArrayList<>(); // {tmp, target}, or {null, target} for a deletion, in request order
      Set<Path> madeDirs = new java.util.HashSet<>(); // directories already ensured in this batch
      try {
        for (Request r : batch) {
          try {
            List<Path[]> mine = new ArrayList<>();
            for (Op op : r.ops()) {
              if (op.content() == null) {
                mine.add(new Path[] {null, op.target()});
                continue;
              }
              if (madeDirs.add(op.target().getParent())) {
                Files.createDirectories(op.target().getParent());
              }
              Path tmp = op.target().resolveSibling(op.target().getFileName() + "." + sequence.incrementAndGet() + ".tmp");
              try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.WRITE)) {
                ByteBuffer buf = ByteBuffer.wrap(op.content());
                while (buf.hasRemaining()) {
                  ch.write(buf);
                }
              }
              mine.add(new Path[] {tmp, op.target()});
            }
            renames.addAll(mine);
            ok.add(r);
          } catch (IOException | RuntimeException e) {
            r.done().completeExceptionally(e);
          }
        }
        // Written and closed first, flushed after (a batch of thousands needs one descriptor at a time).
        List<Path> written = renames.stream().filter(p -> p[0] != null).map(p -> p[0]).toList();
        if (written.size() >= SYNCFS_FROM) {
          Map<Object, Path> oneDirPerFilesystem = new java.util.HashMap<>();
          for (Path tmp : written) {
            oneDirPerFilesystem.putIfAbsent(Files.getAttribute(tmp, "unix:dev"), tmp.getParent());
          }
          for (Path dir : oneDirPerFilesystem.values()) {
            syncfs(dir);
          }
        } else {
          for (Path tmp : written) {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.READ)) {
              ch.force(true);
            }
          }
        }
        Set<Path> dirs = new LinkedHashSet<>();
        for (Path[] p : renames) {
          if (p[0] == null) {
            Files.deleteIfExists(p[1]);
          } else {
            Files.move(p[0], p[1], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
          }
          dirs.add(p[1].getParent());
        }
        for (Path d : dirs) {
          if (Files.isDirectory(d)) {
            fsyncDirectory(d);
          }
        }
        ok.forEach(r -> r.done().complete(null));
      } catch (IOException | RuntimeException e) {
        ok.forEach(r -> r.done().completeExceptionally(e));
      }
    }
  }
}
