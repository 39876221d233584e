package dev.csinode.agent.cache;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.volume.KubeletLayout;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The actual state of world on disk: one JSON record per volume under {@code <state-dir>/journal/}, written
 * atomically (temp, fsync, rename, directory fsync) before each CSI call, with the step about to run marked
 * UNCERTAIN, and again after it with the outcome. A crash at any point therefore leaves a record that says at
 * worst "may be mounted", never "not mounted" for something that is. Each record carries the boot id: after a
 * reboot nothing is mounted any more. Blocking: call from worker threads.
 */
public final class ActualStateJournal {
  private static final Logger LOG = LoggerFactory.getLogger(ActualStateJournal.class);
  private static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  /** One volume as recorded. */
  public record Entry(String bootId, VolumeSpec spec, boolean attached, Map<String, String> publishContext, DeviceState device,
                      String stagingPath, List<MountedPod> pods) {}

  private final Path dir;
  private final String bootId;
  private volatile int skipped;

  /** Records the last {@link #readAll()} could not use. */
  public int skippedRecords() {
    return skipped;
  }

  public ActualStateJournal(Path stateDir, String bootId) {
    this.dir = stateDir.resolve("journal");
    this.bootId = bootId;
  }

  public String bootId() {
    return bootId;
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

  /** Records the volume, or removes its record when nothing of it may exist on the node any more. */
  public void write(Entry e) throws IOException {
    Path file = file(e.spec().uniqueName());
    if (!e.attached() && e.device() == DeviceState.NOT_MOUNTED && e.pods().isEmpty()) {
      if (Files.deleteIfExists(file)) {
        fsyncDir();
      }
      return;
    }
    Files.createDirectories(dir);
    Path tmp = dir.resolve(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(JSON.writeValueAsBytes(e)));
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDir();
  }

  public List<Entry> readAll() {
    List<Entry> out = new ArrayList<>();
    int bad = 0;
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).sorted().toList()) {
        try {
          out.add(JSON.readValue(f.toFile(), Entry.class));
        } catch (IOException e) {
          LOG.error("journal record {} is unreadable and was skipped (its volume is left as it is): {}", f, e.getMessage());
          bad++;
        }
      }
    } catch (IOException e) {
      LOG.error("cannot read journal {}: {}", dir, e.getMessage());
    }
    skipped = bad;
    return out;
  }

  private Path file(String uniqueName) {
    return dir.resolve(KubeletLayout.sha256(uniqueName) + ".json");
  }

  private void fsyncDir() throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
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
