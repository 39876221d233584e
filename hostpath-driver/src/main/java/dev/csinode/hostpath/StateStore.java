package dev.csinode.hostpath;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import dev.csinode.mount.RecordLog;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's records of its volumes and snapshots: one {@link RecordLog}, {@code <state-dir>/state/state.log},
 * with the keys {@code volume/<id>} and {@code snapshot/<id>}. A change returns once it is durable on disk, or, for
 * where a volume is staged or published ({@link #saveNodeState}), once written; a crash leaves the old or the new
 * record, never half of one.
 */
final class StateStore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(StateStore.class);
  private static final String VOLUME = "volume/";
  private static final String SNAPSHOT = "snapshot/";
  private final ObjectMapper json = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  // Writers bound to their type: a stage or publish writes a record, and the mapper would look its serializer up each time.
  private final ObjectWriter volumeJson = json.writerFor(HostpathVolume.class);
  private final ObjectWriter snapshotJson = json.writerFor(HostpathSnapshot.class);
  private final RecordLog log;

  /** Opens the log (blocking); records of an older version, a file each in state/volumes and state/snapshots, are moved in. */
  StateStore(Path stateDir) {
    try {
      this.log = RecordLog.open(stateDir.resolve("state/state.log"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the driver's state under " + stateDir, e);
    }
    log.adoptFiles(stateDir.resolve("state/volumes"), id -> VOLUME + id);
    log.adoptFiles(stateDir.resolve("state/snapshots"), id -> SNAPSHOT + id);
  }

  List<HostpathVolume> loadVolumes() {
    return load(VOLUME, HostpathVolume.class);
  }

  List<HostpathSnapshot> loadSnapshots() {
    return load(SNAPSHOT, HostpathSnapshot.class);
  }

  void save(HostpathVolume v) {
    write(VOLUME + v.id(), volumeJson, v, true);
  }

  /**
   * Saves a change of where the volume is staged or published on this node: no disk flush, since a reboot
   * unmounts everything anyway and the NodeUnstage/NodeUnpublish that may follow one are idempotent.
   */
  void saveNodeState(HostpathVolume v) {
    write(VOLUME + v.id(), volumeJson, v, false);
  }

  void save(HostpathSnapshot s) {
    write(SNAPSHOT + s.id(), snapshotJson, s, true);
  }

  void deleteVolume(String id) {
    remove(VOLUME + id);
  }

  void deleteSnapshot(String id) {
    remove(SNAPSHOT + id);
  }

  private <T> List<T> load(String prefix, Class<T> type) {
    List<T> out = new ArrayList<>();
    for (var record : log.records().entrySet()) {
      if (!record.getKey().startsWith(prefix)) {
        continue;
      }
      try {
        out.add(json.readValue(record.getValue(), type));
      } catch (IOException e) {
        // A corrupt record is reported and kept for inspection; the driver serves the rest.
        LOG.error("state record {} in {} is unreadable and was skipped: {}", record.getKey(), log.file(), e.getMessage());
      }
    }
    return out;
  }

  // Callers are the driver's worker threads, which wait for the change anyway: they write it themselves.
  private void write(String key, ObjectWriter writer, Object value, boolean flush) {
    String record;
    try {
      record = writer.writeValueAsString(value);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot persist state of " + key, e);
    }
    try {
      if (flush) {
        log.putAndWait(key, record);
      } else {
        log.putUntilRebootAndWait(key, record);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot persist state of " + key + " in " + log.file(), e);
    }
  }

  private void remove(String key) {
    try {
      log.removeAndWait(key);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot persist state of " + key + " in " + log.file(), e);
    }
  }

  @Override
  public void close() {
    log.close();
  }
}
