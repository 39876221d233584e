package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Crash-safe file replacement: every caller's content lands whole, with no temp file left. */
class AtomicFileTest {
  @TempDir
  Path dir;

  @Test
  void concurrentWritersAllLandWholeAndTheLastWriteOfAFileWins() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(32);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 32; t++) {
        int writer = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < 40; i++) {
            // Each writer owns a file in one of four directories and rewrites it, all at once.
            AtomicFile.write(dir.resolve("d" + writer % 4).resolve("w" + writer + ".json"),
                ("writer " + writer + " version " + i).getBytes(StandardCharsets.UTF_8));
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    for (int t = 0; t < 32; t++) {
      assertEquals("writer " + t + " version 39", Files.readString(dir.resolve("d" + t % 4).resolve("w" + t + ".json")));
    }
    try (Stream<Path> all = Files.walk(dir)) {
      assertEquals(List.of(), all.filter(p -> p.toString().endsWith(".tmp")).toList(), "no temp file is left behind");
    }
  }

  @Test
  void aFailedWriteFailsOnlyItsCaller() throws Exception {
    Path blocked = Files.writeString(dir.resolve("not-a-directory"), "x");
    assertThrows(IOException.class, () -> AtomicFile.write(blocked.resolve("child.json"), new byte[1]));
    AtomicFile.write(dir.resolve("fine.json"), "ok".getBytes(StandardCharsets.UTF_8));
    assertEquals("ok", Files.readString(dir.resolve("fine.json")));
  }

  @Test
  void leftoversOfAnInterruptedReplacementAreRemovedAndTargetsKept() throws Exception {
    AtomicFile.write(dir.resolve("state.json"), "kept".getBytes(StandardCharsets.UTF_8));
    Files.writeString(dir.resolve("state.json.41.tmp"), "{\"half");
    AtomicFile.removeLeftovers(dir);
    try (Stream<Path> left = Files.list(dir)) {
      assertEquals(List.of(dir.resolve("state.json")), left.toList());
    }
    AtomicFile.removeLeftovers(dir.resolve("absent")); // nothing to do, no error
  }

  /** A bare relative name: the file lands in the working directory (the module's, under Maven) and the rename is synced. */
  @Test
  void aBareRelativeNameIsWrittenInTheWorkingDirectory() throws IOException {
    Path bare = Path.of("atomic-file-test-" + ProcessHandle.current().pid() + ".bin");
    try {
      AtomicFile.write(bare, new byte[] {1, 2, 3});
      assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(bare.toAbsolutePath()));
    } finally {
      Files.deleteIfExists(bare);
    }
  }
}
