package dev.csinode.mount;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A durable map of small JSON records in one log file: each change is one line,
 * {@code {"<key field>": key, "<value field>": record}}, and a line without the value removes the key. The last
 * line of a key wins.
 *
 * <p>Why not a file per record: every replaced file costs a new inode and a deleted one. On ext4 without a journal
 * (this project's CI machines) each inode allocation skips every inode deleted in the last minutes, so a thousand
 * records changing a few times each made every later file creation on the node slower, mounts included.
 *
 * <p>Group commit: whoever writes takes everything queued and writes it with one write(2), so a thousand records
 * changing at once cost a few disk flushes. Changes made through the returned futures are written by the log's own
 * writer thread (their callers may be event loops, which must not block); a caller on a worker thread that waits
 * anyway ({@link #putAndWait} and the like) writes the queue itself when no one else is writing, which saves two
 * thread hand-offs per change (the bundled driver's calls are a few of them each); when another is writing it hands
 * its change to the writer thread rather than wait behind that group's flush. Changes that need only survive a crash of the process
 * ({@link #putUntilReboot}) are complete once written; the others after one fdatasync for the group. A torn last line (a crash
 * during a write that was never acknowledged) is ignored; an unreadable line elsewhere is skipped and counted.
 *
 * <p>Flushes without a journal commit: the file is kept longer than its lines by zeros written ahead (written, not
 * fallocated: an unwritten extent needs a metadata change when first written), and a group is written in place at
 * the end of the lines. Its fdatasync then writes data and flushes the device, without the file system's journal
 * commit that a file whose size changed needs (on ext4 that commit carries every other change to the disk's metadata,
 * the pods' directories among them, and took tens of ms under a churn). Only a group that does not fit in the zeros
 * extends the file, by as much as it holds (at least a page, at most {@link #MAX_EXTENSION}), so that commit comes once
 * per doubling or MiB. Reading stops at the first NUL byte (records are JSON, which has none): what follows the last
 * line before it is a torn, unacknowledged tail, and whatever a power loss left after the zeros (sectors of a group
 * never flushed, persisted out of order) is never read. Nothing is written after it before it was cut off and that
 * flushed: the log is compacted, or else cut, when opened. A log closed cleanly is cut to its lines. The
 * log is compacted (rewritten with the live records through {@link AtomicFile}) when opened and whenever it grows
 * past several times the live records. The file is 0600 and its directory 0700, made so when created (records
 * may hold secrets).
 *
 * <p>A full or failing disk does not stop its owner: opening reads what is there even when the log cannot be
 * rewritten, and a change that cannot be written (or flushed) fails its caller and is not taken into the records;
 * a failed write is cut off again. A change that fits in the zeros already written needs no space. The log then
 * reports itself degraded ({@link #problem}, {@link #degraded}) and tries to rewrite itself every
 * {@link #RETRY_MILLIS} ms until it can, or until a change is written again.
 * Thread-safe.
 */
public final class RecordLog implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RecordLog.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  static final long RETRY_MILLIS = 1000;
  /** The most zeros one extension writes ahead: the disk space a log may hold beyond its lines. */
  static final int MAX_EXTENSION = 1 << 20;
  private static final int PAGE = 4096;
  private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(64 * 1024).asReadOnlyBuffer();
  /** Logs open in this process, for {@link #degraded}. */
  private static final Set<RecordLog> OPEN = ConcurrentHashMap.newKeySet();

  /** Why a log cannot be written, since when. */
  public record Degraded(String file, String problem, String since) {}

  /** {@code flush}: the change must survive a power loss, not only a crash of this process. */
  private record Pending(String key, String value, byte[] line, boolean flush, CompletableFuture<Void> done) {}

  private final Path file;
  private final String keyField;
  private final String valueField;
  private final LinkedBlockingQueue<List<Pending>> queue = new LinkedBlockingQueue<>();
  /** Held by whoever writes the queue: the writer thread, or a caller waiting for its own change. */
  private final ReentrantLock writing = new ReentrantLock();
  /** Wakes the writer thread: a change was queued that no waiting caller will write. */
  private final Semaphore wake = new Semaphore(0);
  /**
   * The records as complete so far: changes until reboot once written, durable ones once flushed (the writer's view;
   * compaction rewrites exactly this).
   */
  private final Map<String, String> live = new LinkedHashMap<>();
  private final int skipped;
  private final Thread writer;
  private final Flush flush;
  private FileChannel out;
  /** The inode {@link #out} writes to: a compaction that failed after its rename must not leave it writing to the old one. */
  private Object outKey;
  /**
   * Where the lines of the file {@link #out} writes to end, kept as it is written and cut (guarded by this): where the
   * next group goes, and where a group's lines start, to cut them off again when their write or flush fails. Only
   * zeros follow it, up to {@link #allocated}. Asking the channel costs an fstat(2) per change.
   */
  private long end;
  /** The length of that file (guarded by this): a group that ends beyond it extends the file. */
  private long allocated;
  private long linesSinceCompaction;
  private boolean broken;
  private volatile Degraded problem;
  private volatile boolean closed;

  /** How a group is made durable: fdatasync, or a test's stand-in that blocks or fails. */
  interface Flush {
    void force(FileChannel channel) throws IOException;
  }

  private RecordLog(Path file, String keyField, String valueField, Flush flush) throws IOException {
    this.file = file;
    this.flush = flush;
    this.keyField = keyField;
    this.valueField = valueField;
    // Neither read nor written through a link: the records (secrets among them) would go wherever it points.
    for (Path p : List.of(file.getParent(), file)) {
      if (Files.isSymbolicLink(p)) {
        throw new SymlinkRefusedException(p);
      }
    }
    this.skipped = read();
    try {
      PrivateFiles.createDirectory(file.getParent());
      AtomicFile.removeLeftovers(file.getParent()); // a compaction cut short by a crash
      compact();
    } catch (IOException e) {
      // A full disk: the records are read; serve them, write if the file can be opened, rewrite it when possible.
      degrade("cannot rewrite", e);
      try {
        out = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.FILE);
        outKey = fileKey();
        // Everything after the last line is cut off, and the cut flushed before a line is written there: a torn last
        // line (never acknowledged) would make the next one unreadable too, and what a power loss left beyond the
        // zeros (lines of a group never flushed) could come back as lines when a group overwrites the zeros before it.
        byte[] content = Files.readAllBytes(file);
        int lines = linesEnd(content);
        if (lines < content.length) {
          out.truncate(lines);
          flush.force(out);
        }
        end = lines;
        allocated = lines;
        broken = false; // whole again: writes can go on
      } catch (IOException notEven) {
        broken = true; // every write rewrites the file first
      }
    }
    OPEN.add(this);
    this.writer = new Thread(this::writeLoop, "record-log-" + file.getFileName());
    writer.setDaemon(true);
    writer.start();
  }

  /** Opens (creating it if needed) the log with the fields {@code key} and {@code value}. Blocking. */
  public static RecordLog open(Path file) throws IOException {
    return open(file, "key", "value");
  }

  /** Opens the log with its own field names (a format older than this class). Blocking. */
  public static RecordLog open(Path file, String keyField, String valueField) throws IOException {
    return new RecordLog(file, keyField, valueField, channel -> channel.force(false));
  }

  /** For tests: the log with its own way of flushing a group. */
  static RecordLog open(Path file, Flush flush) throws IOException {
    return new RecordLog(file, "key", "value", flush);
  }

  public Path file() {
    return file;
  }

  /** The records whose change is complete, by key, in the order they were first written. It copies them all. */
  public synchronized Map<String, String> records() {
    return new LinkedHashMap<>(live);
  }

  /** Why the log cannot be written now, or empty when it can. */
  public Optional<Degraded> problem() {
    return Optional.ofNullable(problem);
  }

  /** The degraded logs open in this process whose file is under {@code dir}. */
  public static List<Degraded> degraded(Path dir) {
    return OPEN.stream().filter(l -> l.file.startsWith(dir)).map(l -> l.problem).filter(Objects::nonNull)
        .sorted(Comparator.comparing(Degraded::file)).toList();
  }

  private void degrade(String what, IOException e) {
    if (problem == null) {
      LOG.error("{} {}: {}; changes fail until it can be written again (retried every {} ms)", what, file, e.getMessage(), RETRY_MILLIS);
      problem = new Degraded(file.toString(), what + " " + file + ": " + e.getMessage(), Instant.now().toString());
      wake.release(); // the writer thread retries while degraded, also when a waiting caller's write failed
    }
  }

  private void recovered() {
    if (problem != null) {
      LOG.info("{} can be written again", file);
      problem = null;
    }
  }

  /** Lines that could not be read when the log was opened (each was logged). */
  public int skippedLines() {
    return skipped;
  }

  /** Sets one record; completes once it is durable. {@code json} must be one line of JSON (not pretty-printed). */
  public CompletableFuture<Void> put(String key, String json) {
    return submit(Map.of(key, json), List.of(), true, true);
  }

  /** {@link #put}, written by the calling thread unless another is writing; returns once durable. Blocking. */
  public void putAndWait(String key, String json) throws IOException {
    writeHere(submit(Map.of(key, json), List.of(), true, false));
  }

  /** {@link #putUntilReboot}, written by the calling thread unless another is writing. Blocking. */
  public void putUntilRebootAndWait(String key, String json) throws IOException {
    writeHere(submit(Map.of(key, json), List.of(), false, false));
  }

  /** {@link #remove}, written by the calling thread unless another is writing; returns once durable. Blocking. */
  public void removeAndWait(String key) throws IOException {
    writeHere(submit(Map.of(), List.of(key), true, false));
  }

  /**
   * Sets one record; completes once it is written, without waiting for the disk: it survives a crash of this
   * process, not necessarily a power loss (then the key's last durable record stands). For records a reboot makes
   * moot anyway (what is mounted), which must not cost a disk flush each. A later durable change flushes it too.
   */
  public CompletableFuture<Void> putUntilReboot(String key, String json) {
    return submit(Map.of(key, json), List.of(), false, true);
  }

  /** Sets several records, durable together. */
  public CompletableFuture<Void> putAll(Map<String, String> records) {
    return submit(records, List.of(), true, true);
  }

  /** Removes one record (nothing happens if there is none); completes once that is durable. */
  public CompletableFuture<Void> remove(String key) {
    return submit(Map.of(), List.of(key), true, true);
  }

  /** Removes one record, surviving a crash of this process but not necessarily a power loss (see {@link #putUntilReboot}). */
  public CompletableFuture<Void> removeUntilReboot(String key) {
    return submit(Map.of(), List.of(key), false, true);
  }

  /** Waits until a change is durable, for callers on worker threads; its failure is thrown as it was. */
  public static void await(CompletableFuture<Void> durable) throws IOException {
    try {
      durable.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause().getMessage(), e.getCause());
    }
  }

  /**
   * Waits for a change this thread queued, writing the queue itself when no one else is writing. Otherwise the writer
   * thread takes it (whoever writes now may take it first): an until-reboot change must not wait for the flush of
   * the group being written, nor for its own group's. An interrupted thread hands it over too: an interrupt during
   * a write would close the file channel under everyone's changes.
   */
  private void writeHere(CompletableFuture<Void> change) throws IOException {
    if (writing.isHeldByCurrentThread()) {
      // From a change's completion, on the thread writing its group: writing now would apply this group before that one.
      throw new IllegalStateException("a change to " + file + " waited for from the completion of another: use the future API there");
    }
    if (!Thread.currentThread().isInterrupted() && writing.tryLock()) {
      try {
        if (!change.isDone()) {
          writeQueued();
        }
      } finally {
        writing.unlock();
      }
    } else {
      wake.release();
    }
    await(change);
  }

  private CompletableFuture<Void> submit(Map<String, String> puts, List<String> removals, boolean flush, boolean byWriter) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    if (closed) {
      done.completeExceptionally(new IOException("record log " + file + " is closed"));
      return done;
    }
    List<Pending> batch = new ArrayList<>();
    try {
      for (var e : puts.entrySet()) {
        batch.add(new Pending(e.getKey(), e.getValue(), line(e.getKey(), e.getValue()), flush, done));
      }
      for (String key : removals) {
        batch.add(new Pending(key, null, line(key, null), flush, done));
      }
    } catch (IOException | IllegalArgumentException e) {
      done.completeExceptionally(e);
      return done;
    }
    if (batch.isEmpty()) {
      done.complete(null);
    } else {
      queue.add(batch);
      if (byWriter) {
        wake.release();
      }
    }
    return done;
  }

  private byte[] line(String key, String json) throws IOException {
    // A NUL (never in JSON, which escapes control characters) would end the log for its reader: what follows is lost.
    if (json != null && (json.indexOf('\n') >= 0 || json.indexOf('\r') >= 0 || json.indexOf('\0') >= 0)) {
      throw new IllegalArgumentException("record " + key + " for " + file + " must be single-line JSON");
    }
    StringBuilder b = new StringBuilder(32 + key.length() + (json == null ? 0 : json.length()));
    b.append("{\"").append(keyField).append("\":");
    if (plain(key)) {
      b.append('"').append(key).append('"'); // as Jackson writes it: nothing to escape
    } else {
      b.append(JSON.writeValueAsString(key));
    }
    if (json != null) {
      b.append(",\"").append(valueField).append("\":").append(json);
    }
    return b.append("}\n").toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Printable ASCII without a quote or a backslash: a JSON string as it is (every key a driver or the agent uses). */
  private static boolean plain(String key) {
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        return false;
      }
    }
    return true;
  }

  private void writeLoop() {
    while (!closed) {
      try {
        boolean woken = true;
        if (problem == null) {
          wake.acquire();
        } else {
          woken = wake.tryAcquire(RETRY_MILLIS, TimeUnit.MILLISECONDS);
        }
        wake.drainPermits(); // one pass writes everything queued so far
        writing.lockInterruptibly();
        try {
          if (queue.isEmpty()) {
            if (!woken) {
              retry();
            }
          } else {
            writeQueued();
          }
        } finally {
          writing.unlock();
        }
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Writes everything queued as one group; the caller holds {@link #writing}. */
  private void writeQueued() {
    List<List<Pending>> batches = new ArrayList<>();
    queue.drainTo(batches);
    if (batches.isEmpty()) {
      return;
    }
    // Loops, not streams, on this path and in writeGroup: it runs for every change a driver's call makes.
    List<Pending> all = batches.size() == 1 ? batches.get(0) : new ArrayList<>();
    if (batches.size() > 1) {
      batches.forEach(all::addAll);
    }
    if (closed) {
      IOException gone = new IOException("record log " + file + " is closed");
      all.forEach(p -> p.done().completeExceptionally(gone));
      return;
    }
    try {
      writeGroup(all);
    } catch (RuntimeException | Error e) {
      // Nobody else will complete them: their callers would wait for ever (an OutOfMemoryError building the group).
      all.forEach(p -> p.done().completeExceptionally(e));
      throw e;
    }
  }

  private void writeGroup(List<Pending> all) {
    List<Pending> durable = new ArrayList<>(0);
    int bytes = 0;
    for (Pending p : all) {
      bytes += p.line().length;
      if (p.flush()) {
        durable.add(p);
      }
    }
    long before;
    try {
      synchronized (this) {
        if (broken) {
          compact(); // a failed write may have left a partial line: rewrite the file from what is known
        }
        ByteBuffer buf = ByteBuffer.allocate(bytes);
        for (Pending p : all) {
          buf.put(p.line());
        }
        buf.flip();
        before = end;
        try {
          reserve(before + bytes);
          long at = before;
          while (buf.hasRemaining()) {
            at += out.write(buf, at);
          }
          end = at;
          allocated = Math.max(allocated, end);
        } catch (IOException e) {
          try {
            out.truncate(before); // no partial line stays (truncating needs no space); the zeros go too
            end = before;
            allocated = before;
          } catch (IOException cannot) {
            broken = true;
          }
          throw e;
        }
        apply(all, false);
      }
    } catch (IOException | RuntimeException e) {
      Exception failure = e;
      if (e instanceof IOException io) {
        degrade("cannot write", io);
        failure = new IOException("cannot write " + file + ": " + io.getMessage() + "; the change was not made", io);
      } else {
        LOG.error("cannot write {}: {}", file, e.getMessage());
      }
      Exception f = failure;
      all.forEach(p -> p.done().completeExceptionally(f));
      return;
    }
    // Written: what needs only survive a crash of this process is done, and does not wait for the disk flush
    // others in the group need (a mount's record must not wait behind a volume creation's fdatasync).
    for (Pending p : all) {
      if (!p.flush()) {
        p.done().complete(null);
      }
    }
    IOException flushFailed = null;
    if (!durable.isEmpty()) {
      try {
        flush.force(out);
      } catch (IOException e) {
        flushFailed = e;
      }
    }
    try {
      synchronized (this) {
        // A change whose flush failed was not made (its caller is told so): it stays out of the records, and its
        // line is cut off the file before the caller hears of it. Otherwise a group with durable changes is taken
        // again, in the order written: a durable change and a later one of the same key until reboot end with the
        // later one.
        if (flushFailed == null) {
          if (!durable.isEmpty()) {
            apply(all, true);
          }
        } else {
          cutOff(before, all);
        }
        linesSinceCompaction += all.size();
        if (flushFailed == null && linesSinceCompaction > 1000 + 4L * live.size()) {
          compact();
        }
      }
    } catch (IOException | RuntimeException e) {
      // The compaction failed: the log as written is still whole (the old file stays open), and the next one tries again.
      LOG.error("cannot compact {}: {}", file, e.getMessage());
    }
    if (flushFailed != null) {
      degrade("cannot flush", flushFailed);
      IOException cause = new IOException("cannot flush " + file + ": " + flushFailed.getMessage() + "; the change was not made",
          flushFailed);
      durable.forEach(p -> p.done().completeExceptionally(cause));
    } else {
      recovered();
      durable.forEach(p -> p.done().complete(null));
    }
  }

  /**
   * Makes the file at least {@code need} long with zeros, written ahead so that the groups written over them change
   * neither the file's size nor its extents (nothing for a flush to commit to the journal). It grows by as much as it
   * holds, at least a page and at most {@link #MAX_EXTENSION}: one extension per doubling or MiB, and at most that
   * much disk held beyond the lines. The extension is made durable by the flush of the group it is for (that one's
   * fdatasync commits the new size, as every flush of an appended file did). Without the room for it (a nearly full
   * disk), the zeros are given back and the group grows the file by itself.
   */
  private void reserve(long need) {
    if (need <= allocated) {
      return;
    }
    long to = (need + Math.min(Math.max(need, 1), MAX_EXTENSION) + PAGE - 1) / PAGE * PAGE;
    long at = allocated;
    try {
      while (at < to) {
        ByteBuffer zeros = ZEROS.duplicate();
        zeros.limit((int) Math.min(zeros.capacity(), to - at));
        at += out.write(zeros, at);
      }
      allocated = to;
    } catch (IOException e) {
      try {
        out.truncate(allocated); // zeros past it would be harmless, but hold space the group may need
      } catch (IOException ignored) {
        // Zeros stay beyond the lines: read as their end, overwritten by the next groups.
      }
    }
  }

  /**
   * Takes a group whose flush failed off the end of the file again (truncating needs no space), so that no later
   * start reads it back as a record; the group's changes until reboot, complete once written, are written again.
   * The cut is flushed: once that succeeds, not even a power loss brings the failed changes back. If anything here
   * fails, the log is marked broken: the next write rewrites the file from the records (a new file, flushed,
   * renamed in, its directory flushed) before it writes, so no later change is acknowledged while the failed line
   * may still be in the file. Left open: a power loss before either the cut's flush or such a rewrite succeeded,
   * when the disk may show the group as written after all (as with any write whose flush failed).
   */
  private void cutOff(long before, List<Pending> group) {
    try {
      out.truncate(before); // the zeros after it too: the next group extends the file again
      end = before;
      allocated = before;
      List<Pending> again = group.stream().filter(p -> !p.flush()).toList();
      ByteBuffer buf = ByteBuffer.allocate(again.stream().mapToInt(p -> p.line().length).sum());
      again.forEach(p -> buf.put(p.line()));
      buf.flip();
      long at = before;
      while (buf.hasRemaining()) {
        at += out.write(buf, at);
      }
      end = at;
      allocated = at;
      flush.force(out);
    } catch (IOException | RuntimeException e) {
      LOG.error("cannot cut the changes whose flush failed off {}: {}; it is rewritten before the next change", file, e.getMessage());
      broken = true;
    }
  }

  /** While degraded and idle: rewrites the file from the records (a failed flush's lines dropped) once there is space. */
  private void retry() {
    synchronized (this) {
      if (closed) {
        return; // its channel is closed: a rewrite would open it again
      }
      try {
        PrivateFiles.createDirectory(file.getParent());
        compact();
      } catch (IOException e) {
        return;
      }
    }
    recovered();
  }

  /** Takes changes into {@link #live} in order: all of them, or only those that need no flush. */
  private void apply(List<Pending> changes, boolean durableToo) {
    for (Pending p : changes) {
      if (!durableToo && p.flush()) {
        continue;
      }
      if (p.value() == null) {
        live.remove(p.key());
      } else {
        live.put(p.key(), p.value());
      }
    }
  }

  /**
   * Where the lines of a log's content end: after the last newline before the first NUL (zeros written ahead, or
   * the end). What follows is a torn line or zeros, and after those whatever a power loss left: never read.
   */
  static int linesEnd(byte[] content) {
    int stop = 0;
    while (stop < content.length && content[stop] != 0) {
      stop++;
    }
    while (stop > 0 && content[stop - 1] != '\n') {
      stop--;
    }
    return stop;
  }

  /**
   * The lines of a log's content up to its first NUL, the last one possibly torn (without its newline), as
   * {@link Files#readAllLines} splits them.
   */
  private static List<byte[]> lines(byte[] content) {
    List<byte[]> lines = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= content.length; i++) {
      if (i == content.length || content[i] == 0 || content[i] == '\n') {
        if (i > start || (i < content.length && content[i] == '\n')) {
          lines.add(Arrays.copyOfRange(content, start, i));
        }
        if (i == content.length || content[i] == 0) {
          break;
        }
        start = i + 1;
      }
    }
    return lines;
  }

  /** Reads the file into {@link #live}; returns the number of unreadable lines (a torn last one is not counted). */
  private int read() throws IOException {
    if (!Files.exists(file)) {
      return 0;
    }
    int bad = 0;
    List<byte[]> lines = lines(Files.readAllBytes(file));
    // Strictly: a line cut in a character (a torn one) or damaged is unreadable, not read with a stand-in. One
    // decoder for all lines: each decode resets it.
    CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
    for (int i = 0; i < lines.size(); i++) {
      try {
        String l = utf8.decode(ByteBuffer.wrap(lines.get(i))).toString();
        if (l.isBlank()) {
          continue;
        }
        JsonNode node = JSON.readTree(l);
        JsonNode key = node == null ? null : node.get(keyField);
        if (key == null || !key.isTextual()) {
          throw new IOException("no \"" + keyField + "\" field");
        }
        JsonNode value = node.get(valueField);
        if (value == null || value.isNull()) {
          live.remove(key.asText());
        } else {
          live.put(key.asText(), value.toString());
        }
      } catch (IOException e) {
        if (i < lines.size() - 1) { // the last line may be torn by a crash: never acknowledged, not an error
          LOG.error("line {} of {} is unreadable and was skipped: {}", i + 1, file, e.getMessage());
          bad++;
        }
      }
    }
    return bad;
  }

  private Object fileKey() {
    try {
      return Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    } catch (IOException e) {
      return null;
    }
  }

  /** Rewrites the file with the live records only, and reopens it for writing (the next group extends it). */
  private synchronized void compact() throws IOException {
    StringBuilder content = new StringBuilder();
    for (var e : live.entrySet()) {
      content.append(new String(line(e.getKey(), e.getValue()), StandardCharsets.UTF_8));
    }
    // The old file stays open until the new one is in place: if the rewrite fails, writing to it goes on, unless
    // the new file was renamed in before the failure (its directory's flush failed): then writes wait for a rewrite.
    try {
      AtomicFile.write(file, content.toString().getBytes(StandardCharsets.UTF_8), PrivateFiles.FILE);
    } catch (IOException e) {
      if (out == null || !Objects.equals(outKey, fileKey())) {
        broken = true;
      }
      throw e;
    }
    if (out != null) {
      out.close();
      out = null;
    }
    try {
      out = FileChannel.open(file, StandardOpenOption.WRITE);
      outKey = fileKey();
      end = out.size();
      allocated = end;
    } catch (IOException e) {
      broken = true;
      throw e;
    }
    linesSinceCompaction = 0;
    broken = false;
  }

  /**
   * Moves the records of an older layout, one JSON file per record in {@code dir}, into this log: each readable
   * {@code *.json} file becomes the record {@code keyOf(file name without .json)}; once all are durable here, the
   * files are deleted (and the directory, when nothing else is left in it). An unreadable file is kept and logged;
   * a link (the directory or a file in it) is neither followed nor removed.
   * Returns the records moved. Blocking.
   */
  public int adoptFiles(Path dir, Function<String, String> keyOf) {
    if (Files.isSymbolicLink(dir)) { // reading and deleting through it would act wherever it points
      LOG.error("{} is a symbolic link, which is not followed: records found there are not moved into {}; remove it", dir, file);
      return 0;
    }
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return 0;
    }
    Map<String, String> records = new LinkedHashMap<>();
    List<Path> moved = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList()) {
        String name = f.getFileName().toString();
        if (!Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
          LOG.error("record file {} is not a regular file (a link is not followed) and was left where it is", f);
          continue;
        }
        try {
          records.put(keyOf.apply(name.substring(0, name.length() - ".json".length())), JSON.readTree(f.toFile()).toString());
          moved.add(f);
        } catch (IOException | RuntimeException e) {
          LOG.error("record file {} is unreadable and was left where it is: {}", f, e.getMessage());
        }
      }
      if (!records.isEmpty()) {
        putAll(records).join();
      }
      for (Path f : moved) {
        Files.delete(f);
      }
      AtomicFile.removeLeftovers(dir);
      try (Stream<Path> rest = Files.list(dir)) {
        if (rest.findAny().isEmpty()) {
          Files.delete(dir);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move the records of " + dir + " into " + file, e);
    }
    if (!moved.isEmpty()) {
      LOG.info("moved {} records from {} into {}", moved.size(), dir, file);
    }
    return moved.size();
  }

  @Override
  public void close() {
    closed = true;
    OPEN.remove(this);
    writer.interrupt();
    // A caller writing its group now finishes it (and its flush) before the channel closes under it.
    boolean quiet = false;
    try {
      quiet = writing.tryLock(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      closeChannel(quiet);
    } finally {
      if (quiet) {
        writing.unlock();
      }
    }
  }

  /** {@code quiet}: no group is being written, so the zeros can be cut off the file (without a flush: both read the same). */
  private void closeChannel(boolean quiet) {
    synchronized (this) {
      try {
        if (out != null) {
          if (quiet && !broken && end < allocated) {
            out.truncate(end); // the file an older version wrote: lines only
          }
          out.close();
        }
      } catch (IOException e) {
        LOG.debug("closing {}: {}", file, e.getMessage());
      }
    }
  }
}
