package dev.csinode.hostpath;

import dev.csinode.mount.Commands;
import dev.csinode.mount.Directories;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where volume and snapshot bytes live: {@code <state-dir>/volumes/<id>} (a directory) or
 * {@code <state-dir>/volumes/<id>.img} (a sparse image), and {@code <state-dir>/snapshots/<id>.tar|.img}.
 * Every id was validated before it gets here; {@link Names#within} double-checks nothing leaves the state dir.
 */
final class Storage {
  private static final long TIMEOUT = 600;
  private final Path volumesDir;
  private final Path snapshotsDir;

  Storage(Path stateDir) {
    this.volumesDir = stateDir.resolve("volumes");
    this.snapshotsDir = stateDir.resolve("snapshots");
    try {
      Files.createDirectories(volumesDir);
      Files.createDirectories(snapshotsDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create data directories under " + stateDir, e);
    }
  }

  Path directory(String id) {
    return Names.within(volumesDir, id);
  }

  Path image(String id) {
    return Names.within(volumesDir, id + ".img");
  }

  Path dataPath(HostpathVolume v) {
    return v.usesImage() ? image(v.id()) : directory(v.id());
  }

  Path snapshotFile(HostpathSnapshot s) {
    return Names.within(snapshotsDir, s.id() + (s.kind() == VolumeKind.FILESYSTEM ? ".img" : ".tar"));
  }

  void createEmpty(HostpathVolume v) throws IOException {
    if (v.usesImage()) {
      try (RandomAccessFile f = new RandomAccessFile(image(v.id()).toFile(), "rw")) {
        f.setLength(v.capacityBytes());
      }
    } else {
      Files.createDirectories(directory(v.id()));
    }
  }

  void restoreSnapshot(HostpathSnapshot s, HostpathVolume v) throws IOException {
    if (v.usesImage()) {
      Commands.check(List.of("cp", "--sparse=always", snapshotFile(s).toString(), image(v.id()).toString()), TIMEOUT);
      grow(v, v.capacityBytes());
    } else {
      Files.createDirectories(directory(v.id()));
      Commands.check(List.of("tar", "-x", "-f", snapshotFile(s).toString(), "-C", directory(v.id()).toString()), TIMEOUT);
    }
  }

  void cloneVolume(HostpathVolume source, HostpathVolume v) throws IOException {
    // The source may be mounted: flush its filesystem so the copy sees every completed write.
    Commands.check(List.of("sync"), TIMEOUT);
    if (v.usesImage()) {
      Commands.check(List.of("cp", "--sparse=always", image(source.id()).toString(), image(v.id()).toString()), TIMEOUT);
      grow(v, v.capacityBytes());
    } else {
      Files.createDirectories(directory(v.id()));
      Commands.check(List.of("cp", "-a", "--reflink=auto", directory(source.id()) + "/.", directory(v.id()).toString()), TIMEOUT);
    }
  }

  /** Copies the volume's content into the snapshot file; returns the snapshot's size in bytes. */
  long takeSnapshot(HostpathVolume v, HostpathSnapshot s) {
    Commands.check(List.of("sync"), TIMEOUT);
    if (v.usesImage()) {
      Commands.check(List.of("cp", "--sparse=always", image(v.id()).toString(), snapshotFile(s).toString()), TIMEOUT);
      return v.capacityBytes();
    }
    Commands.check(List.of("tar", "-c", "-f", snapshotFile(s).toString(), "-C", directory(v.id()).toString(), "."), TIMEOUT);
    return v.capacityBytes();
  }

  void grow(HostpathVolume v, long bytes) throws IOException {
    if (v.usesImage()) {
      try (RandomAccessFile f = new RandomAccessFile(image(v.id()).toFile(), "rw")) {
        if (f.length() < bytes) {
          f.setLength(bytes);
        }
      }
    }
  }

  /** Deletes the volume's bytes. The caller made sure nothing of it is mounted. */
  void delete(HostpathVolume v) throws IOException {
    if (v.usesImage()) {
      Files.deleteIfExists(image(v.id()));
    } else {
      deleteTree(directory(v.id()));
    }
  }

  void delete(HostpathSnapshot s) throws IOException {
    Files.deleteIfExists(snapshotFile(s));
  }

  boolean exists(HostpathVolume v) {
    return Files.exists(dataPath(v));
  }

  static void deleteTree(Path root) throws IOException {
    Directories.deleteTree(root, true);
  }
}
