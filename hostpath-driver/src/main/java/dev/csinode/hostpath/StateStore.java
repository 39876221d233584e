package dev.csinode.hostpath;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.mount.AtomicFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON file per volume and per snapshot under {@code <state-dir>/state}, each replaced with {@link AtomicFile},
 * so a crash leaves either the old or the new record, never half of one. One file per object keeps a write small with thousands of volumes.
 */
final class StateStore {
  private static final Logger LOG = LoggerFactory.getLogger(StateStore.class);
  private final ObjectMapper json = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  private final Path volumes;
  private final Path snapshots;

  StateStore(Path stateDir) {
    this.volumes = stateDir.resolve("state/volumes");
    this.snapshots = stateDir.resolve("state/snapshots");
    try {
      Files.createDirectories(volumes);
      Files.createDirectories(snapshots);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create state directories under " + stateDir, e);
    }
  }

  List<HostpathVolume> loadVolumes() {
    return load(volumes, HostpathVolume.class);
  }

  List<HostpathSnapshot> loadSnapshots() {
    return load(snapshots, HostpathSnapshot.class);
  }

  void save(HostpathVolume v) {
    write(volumes, v.id(), v);
  }

  void save(HostpathSnapshot s) {
    write(snapshots, s.id(), s);
  }

  void deleteVolume(String id) {
    delete(volumes, id);
  }

  void deleteSnapshot(String id) {
    delete(snapshots, id);
  }

  private <T> List<T> load(Path dir, Class<T> type) {
    List<T> out = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList()) {
        try {
          out.add(json.readValue(f.toFile(), type));
        } catch (IOException e) {
          // A corrupt record is reported and kept for inspection; the driver serves the rest.
          LOG.error("state file {} is unreadable and was skipped: {}", f, e.getMessage());
        }
      }
      try (Stream<Path> tmp = Files.list(dir)) {
        for (Path t : tmp.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList()) {
          Files.deleteIfExists(t);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read state directory " + dir, e);
    }
    return out;
  }

  private void write(Path dir, String id, Object value) {
    try {
      AtomicFile.write(Names.within(dir, id + ".json"), json.writerWithDefaultPrettyPrinter().writeValueAsBytes(value));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot persist state of " + id + " in " + dir, e);
    }
  }

  private void delete(Path dir, String id) {
    try {
      AtomicFile.delete(Names.within(dir, id + ".json"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete state of " + id + " in " + dir, e);
    }
  }
}
