package dev.csinode.agent;

import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Removes a test's own temporary directory when the test is done with it. */
public final class TestDirectories {
  private TestDirectories() {}

  /**
   * Removes the directory and everything in it, links as links (never what they point to). Refused, naming them, while
   * anything is mounted at or below it: a mount point is never removed, so the test unmounts what it made first.
   */
  public static void remove(Path dir) {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    List<MountInfo> mounted = MountTable.read().under(dir);
    if (!mounted.isEmpty()) {
      throw new AssertionError("not removing " + dir + ": still mounted below it: " + mounted.stream().map(MountInfo::mountPoint).toList());
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      List<Path> all = new ArrayList<>(walk.toList());
      all.sort(Comparator.reverseOrder());
      for (Path p : all) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the test's directory " + dir, e);
    }
  }
}
