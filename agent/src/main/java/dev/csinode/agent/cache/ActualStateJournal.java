package dev.csinode.agent.cache;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.mount.AtomicFile;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The actual state of world on disk: an append-only log, {@code <state-dir>/journal/journal.log}, of JSON lines,
 * one record per volume change, written before each CSI call (the pending step marked UNCERTAIN) and after it.
 * A crash at any point leaves a log that says at worst "may be mounted", never "not mounted" for something that
 * is. Group commit: one writer thread takes everything queued, writes it with one write and one fdatasync, then
 * acknowledges all of it, so a thousand volumes changing at once cost a few syncs, not thousands. The last record
 * of a volume wins; a torn last line (crash during a write that was never acknowledged) is ignored. The log is
 * compacted at start and whenever it grows past several times the live records. Each record carries the boot id.
 */
public final class ActualStateJournal implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ActualStateJournal.class);
  private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  static final String LOG_FILE = "journal.log";

  /** One volume as recorded. */
  public record Entry(String bootId, VolumeSpec spec, boolean attached, Map<String, String> publishContext, DeviceState device,
                      String stagingPath, List<MountedPod> pods) {
    boolean empty() {
      return !attached && device == DeviceState.NOT_MOUNTED && (pods == null || pods.isEmpty());
    }
  }

  /** A log line: the volume's record, or {@code entry == null} when nothing of it is left on the node. */
  record Line(String volume, Entry entry) {}

  private record Pending(byte[] line, java.util.concurrent.CompletableFuture<Void> done) {}

  private final Path dir;
  private final String bootId;
  private final java.util.concurrent.LinkedBlockingQueue<Pending> queue = new java.util.concurrent.LinkedBlockingQueue<>();
  private final Map<String, Entry> live = new java.util.HashMap<>();
  private volatile int skipped;
  private FileChannel out;
  private Thread writer;
  private long linesSinceCompaction;
  private volatile boolean closed;

  public ActualStateJournal(Path stateDir, String bootId) {
    this.dir = stateDir.resolve("journal");
    this.bootId = bootId;
  }

  public String bootId() {
    return bootId;
  }

  /** Records the last {@link #readAll()} could not use. */
  public int skippedRecords() {
    return skipped;
  }

  /** The kernel's boot id; changes with every boot. */
  public static String currentBootId() {
    try {
      return Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
    } catch (IOException e) {
      return "unknown";
    }
  }

  public static Entry snapshot(AttachedVolume v, String bootId) {
    return new Entry(bootId, v.spec, v.attached, Map.copyOf(v.publishContext), v.device, v.stagingPath, List.copyOf(v.pods.values()));
  }

  /**
   * Reads the log (last record per volume wins), compacts it, and opens it for appending. Call once, before
   * {@link #append}. Blocking.
   */
  public synchronized List<Entry> readAll() {
    int bad = 0;
    Path file = dir.resolve(LOG_FILE);
    live.clear();
    try {
      AtomicFile.removeLeftovers(dir); // a compaction cut short by a crash
    } catch (IOException e) {
      LOG.warn("cannot remove temp files left in {}: {}", dir, e.getMessage());
    }
    if (Files.exists(file)) {
      try {
        List<String> lines = Files.readAllLines(file, java.nio.charset.StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
          String l = lines.get(i);
          if (l.isBlank()) {
            continue;
          }
          try {
            Line line = JSON.readValue(l, Line.class);
            if (line.entry() == null) {
              live.remove(line.volume());
            } else {
              live.put(line.volume(), line.entry());
            }
          } catch (IOException e) {
            if (i < lines.size() - 1) { // the last line may be torn by a crash: never acknowledged, not an error
              LOG.error("journal line {} of {} is unreadable and was skipped: {}", i + 1, file, e.getMessage());
              bad++;
            }
          }
        }
      } catch (IOException e) {
        LOG.error("cannot read journal {}: {}", file, e.getMessage());
      }
    }
    skipped = bad;
    try {
      compact();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot write journal in " + dir, e);
    }
    writer = new Thread(this::writeLoop, "journal-writer");
    writer.setDaemon(true);
    writer.start();
    return List.copyOf(live.values());
  }

  /** Queues the volume's record; the future completes once it is durable on disk. */
  public java.util.concurrent.CompletableFuture<Void> append(Entry e) {
    var done = new java.util.concurrent.CompletableFuture<Void>();
    try {
      Line line = new Line(e.spec().uniqueName(), e.empty() ? null : e);
      byte[] bytes = JSON.writeValueAsBytes(line);
      byte[] withNewline = java.util.Arrays.copyOf(bytes, bytes.length + 1);
      withNewline[bytes.length] = '\n';
      queue.add(new Pending(withNewline, done));
    } catch (IOException ex) {
      done.completeExceptionally(ex);
    }
    return done;
  }

  private void writeLoop() {
    List<Pending> batch = new ArrayList<>();
    while (!closed) {
      try {
        batch.add(queue.take());
      } catch (InterruptedException e) {
        return;
      }
      queue.drainTo(batch);
      try {
        int size = batch.stream().mapToInt(p -> p.line().length).sum();
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(size);
        for (Pending p : batch) {
          buf.put(p.line());
          track(p.line());
        }
        buf.flip();
        synchronized (this) {
          while (buf.hasRemaining()) {
            out.write(buf);
          }
          out.force(false);
          linesSinceCompaction += batch.size();
          if (linesSinceCompaction > 1000 + 4L * live.size()) {
            compact();
          }
        }
        batch.forEach(p -> p.done().complete(null));
      } catch (IOException | RuntimeException e) {
        LOG.error("cannot write the journal: {}", e.getMessage());
        batch.forEach(p -> p.done().completeExceptionally(e));
      }
      batch.clear();
    }
  }

  /** Keeps {@link #live} current so compaction can rewrite it. */
  private void track(byte[] line) throws IOException {
    Line l = JSON.readValue(line, Line.class);
    synchronized (this) {
      if (l.entry() == null) {
        live.remove(l.volume());
      } else {
        live.put(l.volume(), l.entry());
      }
    }
  }

  /** Rewrites the log with the live records only ({@link AtomicFile}); reopens it for appending. */
  private synchronized void compact() throws IOException {
    StringBuilder content = new StringBuilder();
    for (Entry e : live.values()) {
      content.append(JSON.writeValueAsString(new Line(e.spec().uniqueName(), e))).append('\n');
    }
    if (out != null) {
      out.close();
    }
    AtomicFile.write(dir.resolve(LOG_FILE), content.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    out = FileChannel.open(dir.resolve(LOG_FILE), StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    linesSinceCompaction = 0;
  }

  @Override
  public void close() {
    closed = true;
    if (writer != null) {
      writer.interrupt();
    }
    synchronized (this) {
      try {
        if (out != null) {
          out.close();
        }
      } catch (IOException e) {
        LOG.debug("closing journal: {}", e.getMessage());
      }
    }
  }

  /**
   * Rebuilds the actual state from the records and the host. Records of this boot: a staging path or target that
   * is a mount point is MOUNTED, anything else recorded is UNCERTAIN (re-done if still desired, torn down if not,
   * both idempotent). Records of an earlier boot: nothing is mounted; attachments, which outlive a reboot, stay.
   */
  public static void reconstruct(List<Entry> entries, String bootId, java.util.function.Predicate<Path> isMountPoint,
                                 ActualStateOfWorld asw) {
    for (Entry e : entries) {
      AttachedVolume v = asw.getOrAdd(e.spec());
      v.attached = e.attached();
      v.publishContext = e.publishContext() == null ? Map.of() : e.publishContext();
      v.stagingPath = e.stagingPath();
      boolean sameBoot = bootId.equals(e.bootId());
      if (!sameBoot) {
        v.device = DeviceState.NOT_MOUNTED;
        continue;
      }
      if (e.device() != DeviceState.NOT_MOUNTED && e.stagingPath() != null) {
        // A block volume's staging is the driver's loop device, not a mount: the record is all there is to go by.
        boolean mounted = e.spec().block() || isMountPoint.test(Path.of(e.stagingPath()));
        v.device = mounted && e.device() == DeviceState.MOUNTED ? DeviceState.MOUNTED : DeviceState.UNCERTAIN;
      } else {
        v.device = e.device();
      }
      for (MountedPod p : e.pods()) {
        boolean mounted = isMountPoint.test(Path.of(p.targetPath()));
        MountState s = mounted && p.state() == MountState.MOUNTED ? MountState.MOUNTED : MountState.UNCERTAIN;
        v.pods.put(p.podUid(), new MountedPod(p.podUid(), p.podKey(), s, p.targetPath()));
      }
    }
  }
}
