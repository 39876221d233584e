package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.testing.DiskFiller;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A record log on a small tmpfs, filled up: it opens, reports itself degraded, never acknowledges what it could not write. */
class RecordLogFullDiskTest {
  @TempDir Path dir;
  Path disk;

  @BeforeEach
  void mountSmallDisk() throws Exception {
    PrivateMountNamespace.require();
    disk = Files.createDirectories(dir.resolve("disk"));
    new Mounter().mount("tmpfs", disk, "tmpfs", List.of("size=256k"), false);
  }

  @AfterEach
  void unmount() {
    new Mounter().unmountAll(disk);
  }

  /** Fills the disk with one file; returns it (deleting it frees the space). */

  static void eventually(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not reached in 20 s: " + what);
      Thread.sleep(20);
    }
  }

  @Test
  void opensOnAFullDiskFailsWhatItCannotWriteAndWritesAgainWhenSpaceFrees() throws Exception {
    Path file = disk.resolve("state/records.log");
    try (RecordLog log = RecordLog.open(file)) {
      RecordLog.await(log.putAll(Map.of("a", "{\"v\":\"" + "x".repeat(2000) + "\"}", "b", "{\"v\":1}")));
    }
    Path filler = DiskFiller.fill(disk);

    try (RecordLog log = RecordLog.open(file)) { // the compaction at open cannot write: it opens anyway
      assertEquals(Map.of("a", "{\"v\":\"" + "x".repeat(2000) + "\"}", "b", "{\"v\":1}"), log.records());
      assertTrue(log.problem().isPresent(), "degraded");
      assertEquals(List.of(log.problem().get()), RecordLog.degraded(disk));
      assertTrue(log.problem().get().problem().contains(file.toString()), log.problem().get().problem());

      long size = Files.size(file);
      CompletionException e = assertThrows(CompletionException.class, () -> log.put("c", "{\"v\":\"" + "y".repeat(8000) + "\"}").join());
      assertTrue(e.getCause().getMessage().contains("No space left") && e.getCause().getMessage().contains(file.toString()),
          e.getCause().getMessage());
      assertThrows(CompletionException.class, () -> log.putUntilReboot("d", "{\"v\":\"" + "z".repeat(8000) + "\"}").join());
      assertFalse(log.records().containsKey("c") || log.records().containsKey("d"), "never taken as made");
      assertEquals(size, Files.size(file), "a failed append leaves no partial line");
      assertTrue(log.problem().isPresent());

      Files.delete(filler);
      eventually(() -> log.problem().isEmpty(), "the log recovers by itself once there is space");
      assertEquals(List.of(), RecordLog.degraded(disk));
      RecordLog.await(log.put("e", "{\"v\":2}"));
    }
    try (RecordLog reopened = RecordLog.open(file)) {
      assertEquals(Set.of("a", "b", "e"), reopened.records().keySet());
      assertTrue(reopened.problem().isEmpty());
    }
  }

  @Test
  void aTornLastLineIsCutOffWhenTheLogOpensOnAFullDisk() throws Exception {
    Path file = disk.resolve("torn.log");
    try (RecordLog log = RecordLog.open(file)) {
      RecordLog.await(log.put("a", "{\"v\":\"" + "x".repeat(1000) + "\"}"));
    }
    Files.writeString(file, "{\"key\":\"b\",\"val", StandardOpenOption.APPEND); // a crash mid-write
    Path filler = DiskFiller.fill(disk);
    try (RecordLog log = RecordLog.open(file)) {
      assertTrue(log.problem().isPresent());
      assertEquals(Set.of("a"), log.records().keySet());
      RecordLog.await(log.put("c", "{\"v\":3}")); // small enough for what is left of the file's last page
    }
    Files.delete(filler);
    try (RecordLog reopened = RecordLog.open(file)) {
      assertEquals(Set.of("a", "c"), reopened.records().keySet());
      assertEquals(0, reopened.skippedLines());
    }
  }

  @Test
  void aChangeWrittenAgainAfterTheDiskFreesIsDurable() throws Exception {
    Path file = disk.resolve("records.log");
    try (RecordLog log = RecordLog.open(file)) {
      Path filler = DiskFiller.fill(disk);
      assertThrows(IOException.class, () -> RecordLog.await(log.put("k", "{\"v\":\"" + "q".repeat(8000) + "\"}")));
      assertTrue(log.problem().isPresent());
      Files.delete(filler);
      RecordLog.await(log.put("k", "{\"v\":\"again\"}")); // a write succeeds at once, without waiting for the retry
      assertTrue(log.problem().isEmpty());
    }
    try (RecordLog reopened = RecordLog.open(file)) {
      assertEquals(Map.of("k", "{\"v\":\"again\"}"), reopened.records());
    }
  }

  @Test
  void aWaitingCallersFailedWriteDegradesTheLogAndItRecoversWithoutAnotherChange() throws Exception {
    Path file = disk.resolve("waited.log");
    try (RecordLog log = RecordLog.open(file)) {
      log.putAndWait("a", "{\"v\":1}");
      Path filler = DiskFiller.fill(disk);
      IOException e = assertThrows(IOException.class, () -> log.putAndWait("big", "{\"v\":\"" + "q".repeat(8000) + "\"}"));
      assertTrue(e.getMessage().contains("No space left") && e.getMessage().contains(file.toString()), e.getMessage());
      assertThrows(IOException.class, () -> log.putUntilRebootAndWait("big2", "{\"v\":\"" + "r".repeat(8000) + "\"}"));
      assertTrue(log.problem().isPresent(), "degraded by the caller's own write");
      assertEquals(Map.of("a", "{\"v\":1}"), log.records());
      Files.delete(filler);
      // Nothing else is written: the log's own retry (its writer thread) must find the space.
      eventually(() -> log.problem().isEmpty(), "the log recovers by itself once there is space");
    }
    try (RecordLog reopened = RecordLog.open(file)) {
      assertEquals(Map.of("a", "{\"v\":1}"), reopened.records());
    }
  }

  @Test
  void linesAfterZerosAreCutOffWhenTheLogOpensOnAFullDiskAndNeverReadBack() throws Exception {
    Path file = disk.resolve("ghosts.log");
    try (RecordLog log = RecordLog.open(file)) {
      RecordLog.await(log.put("a", "{\"v\":\"" + "x".repeat(1000) + "\"}"));
    }
    // A power loss during an unflushed group: a later sector of it reached the disk, an earlier one did not. A line
    // written over the zeros would make ghost1 a bad line and ghost2 a record again, were the tail not cut.
    java.io.ByteArrayOutputStream tail = new java.io.ByteArrayOutputStream();
    tail.writeBytes(new byte[10]);
    tail.writeBytes("{\"key\":\"ghost1\",\"value\":{}}\n{\"key\":\"ghost2\",\"value\":{}}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Files.write(file, tail.toByteArray(), StandardOpenOption.APPEND);
    Path filler = DiskFiller.fill(disk);
    try (RecordLog log = RecordLog.open(file)) { // cannot compact: opens with the file as it is
      assertTrue(log.problem().isPresent());
      assertEquals(Set.of("a"), log.records().keySet());
      RecordLog.await(log.put("c", "{\"v\":3}")); // small enough for what is left of the file's last page
      assertFalse(Files.readString(file).contains("ghost"), "cut off before anything was written after the lines");
    }
    Files.delete(filler);
    try (RecordLog reopened = RecordLog.open(file)) {
      assertEquals(Set.of("a", "c"), reopened.records().keySet());
      assertEquals(0, reopened.skippedLines());
    }
  }
}
