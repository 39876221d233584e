package dev.csinode.agent.cache;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.RecordLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The actual state of world on disk: a {@link RecordLog}, {@code <state-dir>/journal/journal.log}, with one
 * record per volume ({@code {"volume": unique name, "entry": ...}}), written before each CSI call (the pending step
 * marked UNCERTAIN) and after it. A crash at any point leaves a log that says at worst "may be mounted", never
 * "not mounted" for something that is. Group-committed, and flushed to the disk only for attachments (see
 * {@link #append}). Each record carries the boot id.
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

  private final Path dir;
  private final String bootId;
  private volatile int skipped;
  private volatile RecordLog log;

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

  /** Opens the log and returns its records (it is compacted on the way). Call once, before {@link #append}. Blocking. */
  public synchronized List<Entry> readAll() {
    try {
      log = RecordLog.open(dir.resolve(LOG_FILE), "volume", "entry");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the journal in " + dir, e);
    }
    int bad = log.skippedLines();
    List<Entry> entries = new ArrayList<>();
    for (var record : log.records().entrySet()) {
      try {
        entries.add(renamed(JSON.readValue(record.getValue(), Entry.class)));
      } catch (IOException e) {
        LOG.error("journal record of volume {} in {} is unreadable and was skipped: {}", record.getKey(), dir, e.getMessage());
        bad++;
      }
    }
    skipped = bad;
    return entries;
  }

  /**
   * An inline volume recorded by an older version under {@code <uid>-<volume>} for a uid that is not a UUID (an
   * ambiguous name) is moved to its name now: the record under the new name, then the old one removed; a crash in
   * between leaves both, the same volume, and the next start does it again. Its handle stays: the driver knows the
   * volume by it.
   */
  private Entry renamed(Entry e) throws IOException {
    if (!e.spec().inline() || e.pods() == null || e.pods().size() != 1) {
      return e;
    }
    String uid = e.pods().get(0).podUid();
    String name = KubeletLayout.uniqueInlineVolumeName(uid, e.spec().specName());
    String old = e.spec().uniqueName();
    if (name.equals(old) || !old.equals(KubeletLayout.legacyUniqueInlineVolumeName(uid, e.spec().specName()))) {
      return e;
    }
    Entry moved = new Entry(e.bootId(), e.spec().withUniqueName(name), e.attached(), e.publishContext(), e.device(), e.stagingPath(),
        e.pods());
    RecordLog.await(log.putUntilReboot(name, JSON.writeValueAsString(moved)));
    RecordLog.await(log.removeUntilReboot(old));
    LOG.info("journal: inline volume {} of pod uid {} moved to its unambiguous name {}", old, uid, name);
    return moved;
  }

  /**
   * Records the volume (or that nothing of it is left); the future completes once the record is written. Only an
   * attachment is flushed to the disk: it outlives a reboot, and a lost record of it would leak it. What is
   * mounted does not outlive one (the next start sees another boot id), so those records need only survive a
   * crash of the agent, which the page cache gives them; a record lost to a power loss leaves the one before, and
   * every step it could make the agent repeat is idempotent.
   */
  public CompletableFuture<Void> append(Entry e) {
    try {
      String key = e.spec().uniqueName();
      if (e.empty()) {
        return log.removeUntilReboot(key);
      }
      String record = JSON.writeValueAsString(e);
      return e.attached() ? log.put(key, record) : log.putUntilReboot(key, record);
    } catch (IOException ex) {
      return CompletableFuture.failedFuture(ex);
    }
  }

  @Override
  public void close() {
    if (log != null) {
      log.close();
    }
  }

  /**
   * The records with their staging and publish paths beneath {@code resolved} where they were beneath
   * {@code configured}: an older version recorded paths under the root as configured ({@code /var/lib/kubelet}),
   * also when that is a link ({@code -> /data/kubelet}); the agent now uses, compares and refuses paths by the
   * resolved root only. The next record of each volume is written with the new paths.
   */
  public static List<Entry> rebased(List<Entry> entries, Path configured, Path resolved) {
    if (configured.equals(resolved)) {
      return entries;
    }
    List<Entry> out = new ArrayList<>();
    for (Entry e : entries) {
      List<MountedPod> pods = e.pods() == null ? null : e.pods().stream()
          .map(p -> new MountedPod(p.podUid(), p.podKey(), p.state(), rebase(p.targetPath(), configured, resolved))).toList();
      Entry moved = new Entry(e.bootId(), e.spec(), e.attached(), e.publishContext(), e.device(),
          rebase(e.stagingPath(), configured, resolved), pods);
      if (!moved.equals(e)) {
        LOG.info("journal: paths of volume {} moved from beneath {} to beneath the resolved root {}", e.spec().uniqueName(),
            configured, resolved);
      }
      out.add(moved);
    }
    return out;
  }

  private static String rebase(String path, Path configured, Path resolved) {
    if (path == null) {
      return null;
    }
    Path p = Path.of(path).normalize();
    return p.startsWith(configured) ? resolved.resolve(configured.relativize(p)).toString() : path;
  }

  /**
   * Rebuilds the actual state from the records and the host. Records of this boot: a staging path or target that
   * is a mount point is MOUNTED, anything else recorded is UNCERTAIN (re-done if still desired, torn down if not,
   * both idempotent). Records of an earlier boot: nothing is mounted; attachments, which outlive a reboot, stay.
   */
  public static void reconstruct(List<Entry> entries, String bootId, Predicate<Path> isMountPoint,
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
