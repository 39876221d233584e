package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

class RecordLogTest {
  @TempDir Path dir;

  private Path file() {
    return dir.resolve("sub/records.log");
  }

  @Test
  void theLastChangeOfEachKeyWinsAcrossReopens() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 300; i++) {
          all.add(log.put("k" + i, "{\"round\":" + round + "}"));
        }
      }
      all.add(log.remove("k7"));
      all.add(log.putAll(Map.of("a", "[1,2]", "b", "\"text with\\nescaped newline\"")));
      CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).join();
      assertEquals(301, log.records().size(), "durable records are visible at once");
    }
    try (RecordLog log = RecordLog.open(file())) {
      Map<String, String> r = log.records();
      assertEquals(301, r.size());
      assertEquals("{\"round\":4}", r.get("k0"));
      assertFalse(r.containsKey("k7"), "a removal is durable too");
      assertEquals("[1,2]", r.get("a"));
      assertEquals("\"text with\\nescaped newline\"", r.get("b"));
      assertEquals(0, log.skippedLines());
      assertEquals(301, Files.readAllLines(file()).size(), "compacted on open: one line per record");
    }
  }

  @Test
  void keysThatNeedEscapingAreWrittenAsJacksonQuotesThemAndReadBack() throws Exception {
    List<String> keys = List.of("quote\"back\\slash", "tab\tnew\nline\r\u0001\u001f", "/var/lib/kubelet/pods/u1",
        "ünïcödé € \uD83D\uDE00", "</script>", "");
    try (RecordLog log = RecordLog.open(file())) {
      for (String k : keys) {
        log.put(k, "{\"v\":1}").join();
      }
    }
    List<String> lines = Files.readAllLines(file(), StandardCharsets.UTF_8);
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < keys.size(); i++) {
      assertEquals("{\"key\":" + json.writeValueAsString(keys.get(i)) + ",\"value\":{\"v\":1}}", lines.get(i));
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(keys.size(), log.records().size());
      for (String k : keys) {
        assertEquals("{\"v\":1}", log.records().get(k), k);
      }
    }
  }

  @Test
  void changesUntilRebootAreInTheFileWhenTheyCompleteAndMixWithDurableOnes() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      log.put("created", "{\"n\":1}").join();
      log.putUntilReboot("mounted", "{\"at\":\"/a\"}").join();
      log.putUntilReboot("created", "{\"n\":2}").join();
      log.put("other", "{}").join();
      log.removeUntilReboot("other").join();
      // What a crash of the process right now would leave: the file as the kernel has it.
      String text = Files.readString(file());
      assertTrue(text.contains("\"mounted\""), text);
      assertTrue(text.contains("\"n\":2"), text);
      assertEquals(Map.of("created", "{\"n\":2}", "mounted", "{\"at\":\"/a\"}"), log.records());
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("created", "{\"n\":2}", "mounted", "{\"at\":\"/a\"}"), log.records());
    }
  }

  /** A flush that waits until released, then flushes; {@code held} tells the test it is waiting. */
  private record HeldFlush(CountDownLatch held, CountDownLatch release) implements RecordLog.Flush {
    HeldFlush() {
      this(new CountDownLatch(1), new CountDownLatch(1));
    }

    @Override
    public void force(FileChannel channel) throws IOException {
      held.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new InterruptedIOException();
      }
      channel.force(false);
    }
  }

  /** The first group's flush is {@code first}, the second's {@code second}, later ones real. */
  private static RecordLog.Flush flushes(RecordLog.Flush first, RecordLog.Flush second) {
    AtomicInteger calls = new AtomicInteger();
    return channel -> {
      switch (calls.incrementAndGet()) {
        case 1 -> first.force(channel);
        case 2 -> second.force(channel);
        default -> channel.force(false);
      }
    };
  }

  /**
   * A durable change and one until reboot written as one group: submitted while the flush of an earlier change
   * ({@code earlier}, held by {@code gate}) hangs, so the writer takes both together once it is released.
   * Returns {durable, until reboot}.
   */
  @SuppressWarnings("unchecked")
  private static CompletableFuture<Void>[] oneGroup(RecordLog log, HeldFlush gate, String earlier, String durable,
                                                    String untilReboot) throws Exception {
    CompletableFuture<Void> first = log.put(earlier, "{}");
    gate.held().await();
    CompletableFuture<Void> d = log.put(durable, "{}");
    CompletableFuture<Void> u = log.putUntilReboot(untilReboot, "{}");
    gate.release().countDown();
    first.get(10, TimeUnit.SECONDS);
    return new CompletableFuture[] {d, u};
  }

  @Test // a change no one writes would leave its caller waiting for ever: join() does not heed an interrupt
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aCallerThatWaitsWritesAndFlushesItsChangeOnItsOwnThread() throws Exception {
    List<String> flushedBy = new java.util.concurrent.CopyOnWriteArrayList<>();
    RecordLog.Flush recording = channel -> {
      flushedBy.add(Thread.currentThread().getName());
      channel.force(false);
    };
    try (RecordLog log = RecordLog.open(file(), recording)) {
      log.putAndWait("created", "{\"n\":1}");
      log.putUntilRebootAndWait("mounted", "{\"at\":\"/a\"}");
      log.putAndWait("gone", "{}");
      log.removeAndWait("gone");
      assertEquals(List.of(Thread.currentThread().getName(), Thread.currentThread().getName(), Thread.currentThread().getName()),
          flushedBy, "the durable changes were flushed by the caller, not handed to the writer thread");
      assertEquals(Map.of("created", "{\"n\":1}", "mounted", "{\"at\":\"/a\"}"), log.records());
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("created", "{\"n\":1}", "mounted", "{\"at\":\"/a\"}"), log.records());
    }
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void changesQueuedWhileACallerFlushesAreWrittenTogetherByTheNext() throws Exception {
    HeldFlush gate = new HeldFlush();
    AtomicInteger flushes = new AtomicInteger();
    RecordLog.Flush counting = channel -> {
      if (flushes.incrementAndGet() == 1) {
        gate.force(channel);
      } else {
        channel.force(false);
      }
    };
    try (RecordLog log = RecordLog.open(file(), counting)) {
      Thread first = new Thread(() -> {
        try {
          log.putAndWait("first", "{}");
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      first.start();
      gate.held().await();
      // While the first caller's flush hangs: ten callers and one change through a future queue up behind it.
      List<Thread> waiting = new ArrayList<>();
      CountDownLatch queued = new CountDownLatch(10);
      for (int i = 0; i < 10; i++) {
        String key = "k" + i;
        Thread t = new Thread(() -> {
          queued.countDown();
          try {
            log.putAndWait(key, "{}");
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
        waiting.add(t);
        t.start();
      }
      CompletableFuture<Void> async = log.put("async", "{}");
      queued.await();
      while (waiting.stream().anyMatch(t -> t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TERMINATED)) {
        Thread.onSpinWait(); // every caller waits for its change (or is done)
      }
      gate.release().countDown();
      first.join(10_000);
      for (Thread t : waiting) {
        t.join(10_000);
        assertFalse(t.isAlive(), "a waiting caller returned");
      }
      async.get(10, TimeUnit.SECONDS);
      assertEquals(12, log.records().size());
      assertEquals(2, flushes.get(), "everything queued behind the first flush shares the next one (group commit)");
      assertTrue(waiting.stream().allMatch(t -> !t.isAlive()));
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(12, log.records().size(), "all of them durable");
    }
  }

  /** Runs a change on a thread of its own (a driver's worker). */
  private static Thread caller(String name, RecordLog.Flush change) {
    Thread t = new Thread(() -> {
      try {
        change.force(null);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, name);
    t.start();
    return t;
  }

  private static void awaitWaiting(Thread... threads) {
    while (java.util.Arrays.stream(threads).anyMatch(t -> t.getState() != Thread.State.WAITING)) {
      Thread.onSpinWait();
    }
  }

  @Test
  @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aWaitingCallersChangeUntilRebootDoesNotWaitForItsGroupsFlush() throws Exception {
    HeldFlush gate = new HeldFlush();
    HeldFlush second = new HeldFlush();
    try (RecordLog log = RecordLog.open(file(), flushes(gate, second))) {
      Thread first = caller("first", c -> log.putAndWait("first", "{}"));
      gate.held().await(); // the first group's flush hangs
      Thread creator = caller("creator", c -> log.putAndWait("created", "{}"));
      Thread mounter = caller("mounter", c -> log.putUntilRebootAndWait("mounted", "{}"));
      awaitWaiting(creator, mounter); // both queued behind it
      gate.release().countDown();
      second.held().await(); // their group is written and its flush hangs
      mounter.join(10_000);
      assertFalse(mounter.isAlive(), "the change until reboot returned without waiting for its group's flush");
      assertTrue(creator.isAlive(), "the durable one waits for it");
      second.release().countDown();
      first.join(10_000);
      creator.join(10_000);
      assertFalse(creator.isAlive());
      assertEquals(Map.of("first", "{}", "created", "{}", "mounted", "{}"), log.records());
    }
  }

  @Test
  void aChangeUntilRebootInAGroupIsCompleteBeforeTheGroupsFlush() throws Exception {
    HeldFlush gate = new HeldFlush();
    HeldFlush second = new HeldFlush();
    try (RecordLog log = RecordLog.open(file(), flushes(gate, second))) {
      CompletableFuture<Void>[] group = oneGroup(log, gate, "first", "created", "mounted");
      second.held().await(); // the group is written and its flush hangs
      assertTrue(group[1].isDone() && !group[1].isCompletedExceptionally(), "written, so complete without the flush");
      assertFalse(group[0].isDone(), "durable only after the flush");
      second.release().countDown();
      group[0].get(10, TimeUnit.SECONDS);
      assertEquals(Map.of("first", "{}", "created", "{}", "mounted", "{}"), log.records());
    }
  }

  @Test
  void aChangeWhoseFlushFailedIsLeftOutAndChangesWrittenInItsGroupStay() throws Exception {
    HeldFlush gate = new HeldFlush();
    try (RecordLog log = RecordLog.open(file(), flushes(gate, channel -> {
      throw new IOException("disk flush failed (test)");
    }))) {
      CompletableFuture<Void>[] group = oneGroup(log, gate, "kept", "lost", "mounted");
      group[1].get(10, TimeUnit.SECONDS);
      ExecutionException failed = assertThrows(ExecutionException.class, () -> group[0].get(10, TimeUnit.SECONDS));
      assertTrue(failed.getCause().getMessage().contains("disk flush failed"), failed.getCause().getMessage());
      assertEquals(Map.of("kept", "{}", "mounted", "{}"), log.records());
      log.put("after", "{}").get(10, TimeUnit.SECONDS); // the log goes on, rewritten from its records first
      assertFalse(Files.readString(file()).contains("\"lost\""), "the line of the failed change is gone");
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("kept", "{}", "mounted", "{}", "after", "{}"), log.records());
    }
  }

  /** A flush that waits until released, then fails. */
  private record HeldFailure(CountDownLatch held, CountDownLatch release) implements RecordLog.Flush {
    HeldFailure() {
      this(new CountDownLatch(1), new CountDownLatch(1));
    }

    @Override
    public void force(FileChannel channel) throws IOException {
      held.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        throw new InterruptedIOException();
      }
      throw new IOException("disk flush failed (test)");
    }
  }

  @Test
  void aChangeWhoseFlushFailedIsCutOffTheFileBeforeItsCallerIsToldAndDoesNotComeBackOnReopen() throws Exception {
    HeldFlush gate = new HeldFlush();
    HeldFailure failing = new HeldFailure();
    try (RecordLog log = RecordLog.open(file(), flushes(gate, failing))) {
      CompletableFuture<Void>[] group = oneGroup(log, gate, "kept", "lost", "mounted");
      failing.held().await(); // the group is written; its flush is about to fail
      // Runs on the writer thread as it tells the caller: what is in the file at that moment.
      CompletableFuture<String> fileWhenTold = group[0].handle((v, e) -> {
        try {
          return (e == null ? "acknowledged " : "failed ") + Files.readString(file());
        } catch (IOException io) {
          throw new UncheckedIOException(io);
        }
      });
      failing.release().countDown();
      String seen = fileWhenTold.get(10, TimeUnit.SECONDS);
      assertTrue(seen.startsWith("failed "), seen);
      assertFalse(seen.contains("\"lost\""), "the failed change's line is gone when its caller hears of it: " + seen);
      assertTrue(seen.contains("\"mounted\""), "the change until reboot written with it stays in the file: " + seen);
    }
    try (RecordLog log = RecordLog.open(file())) { // as after a crash right then
      assertEquals(Map.of("kept", "{}", "mounted", "{}"), log.records());
    }
  }

  @Test
  void whenEvenTheCutCannotBeFlushedTheFileIsRewrittenBeforeTheNextAcknowledgement() throws Exception {
    HeldFlush gate = new HeldFlush();
    AtomicInteger calls = new AtomicInteger();
    RecordLog.Flush flush = channel -> {
      switch (calls.incrementAndGet()) {
        case 1 -> gate.force(channel);
        case 2, 3 -> throw new IOException("disk flush failed (test)"); // the group's flush, then the cut's
        default -> channel.force(false);
      }
    };
    try (RecordLog log = RecordLog.open(file(), flush)) {
      CompletableFuture<Void>[] group = oneGroup(log, gate, "kept", "lost", "mounted");
      assertThrows(ExecutionException.class, () -> group[0].get(10, TimeUnit.SECONDS));
      assertEquals(3, calls.get(), "the cut was flushed (and that failed)");
      Object inode = Files.readAttributes(file(), BasicFileAttributes.class).fileKey();
      // Written until reboot, so acknowledged without a flush of its own: only after the file was rewritten.
      log.putUntilReboot("after", "{}").get(10, TimeUnit.SECONDS);
      assertFalse(inode.equals(Files.readAttributes(file(), BasicFileAttributes.class).fileKey()),
          "rewritten (a new file renamed in, flushed) before the next change was acknowledged");
      assertFalse(Files.readString(file()).contains("\"lost\""));
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("kept", "{}", "mounted", "{}", "after", "{}"), log.records());
    }
  }

  @Test
  void growsOnlyBoundedWhileOpen() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      for (int i = 0; i < 5000; i++) {
        log.put("only", "{\"n\":" + i + "}").join();
      }
      assertTrue(Files.readAllLines(file()).size() <= 1010, "compacted while running");
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("only", "{\"n\":4999}"), log.records());
    }
  }

  @Test
  void aTornLastLineIsIgnoredAndABadLineElsewhereIsCounted() throws Exception {
    try (RecordLog log = RecordLog.open(file(), "volume", "entry")) {
      log.put("x", "{\"v\":1}").join();
    }
    assertEquals("{\"volume\":\"x\",\"entry\":{\"v\":1}}\n", Files.readString(file()), "the format older journals have");
    Files.writeString(file(), "{\"volume\":\"y\",\"entry\":{\"v\"", StandardOpenOption.APPEND);
    try (RecordLog log = RecordLog.open(file(), "volume", "entry")) {
      assertEquals(Map.of("x", "{\"v\":1}"), log.records());
      assertEquals(0, log.skippedLines(), "never acknowledged: not an error");
    }
    Files.writeString(file(), "garbage\n{\"entry\":{}}\n" + Files.readString(file()));
    try (RecordLog log = RecordLog.open(file(), "volume", "entry")) {
      assertEquals(Map.of("x", "{\"v\":1}"), log.records());
      assertEquals(2, log.skippedLines());
    }
  }

  @Test
  void aMultiLineValueIsRefusedAndTheLogStaysUsable() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      CompletionException e = assertThrows(CompletionException.class, () -> log.put("p", "{\n\"a\": 1\n}").join());
      assertTrue(e.getCause().getMessage().contains("record p"), e.getCause().getMessage());
      log.put("q", "{}").join();
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("q", "{}"), log.records());
    }
  }

  @Test
  void filesOfTheOlderLayoutAreNeitherReadNorDeletedThroughALink() throws Exception {
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Path theirs = Files.writeString(elsewhere.resolve("vol-1.json"), "{\"id\":\"vol-1\"}");
    Path old = Files.createSymbolicLink(dir.resolve("volumes"), elsewhere);
    Path within = Files.createDirectories(dir.resolve("snapshots"));
    Files.createSymbolicLink(within.resolve("s-1.json"), theirs);
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(0, log.adoptFiles(old, id -> "volume/" + id));
      assertEquals(0, log.adoptFiles(within, id -> "snapshot/" + id));
      assertEquals(Map.of(), log.records());
    }
    assertTrue(Files.exists(theirs), "what the link points to is left alone");
    assertTrue(Files.isSymbolicLink(old) && Files.isSymbolicLink(within.resolve("s-1.json")), "the links are kept for inspection");
  }

  @Test
  void filesOfTheOlderLayoutAreMovedInAndUnreadableOnesKept() throws Exception {
    Path old = Files.createDirectories(dir.resolve("volumes"));
    Files.writeString(old.resolve("vol-1.json"), "{\n  \"id\" : \"vol-1\"\n}");
    Files.writeString(old.resolve("vol-2.json"), "{\"id\":\"vol-2\"}");
    Files.writeString(old.resolve("vol-2.json.5.tmp"), "{\"id\":");
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(2, log.adoptFiles(old, id -> "volume/" + id));
      assertEquals(Map.of("volume/vol-1", "{\"id\":\"vol-1\"}", "volume/vol-2", "{\"id\":\"vol-2\"}"), log.records());
    }
    assertFalse(Files.exists(old), "emptied and removed once the records were durable in the log");

    Path broken = Files.createDirectories(dir.resolve("snapshots"));
    Files.writeString(broken.resolve("s.json"), "{not json");
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(0, log.adoptFiles(broken, id -> "snapshot/" + id));
      assertEquals(2, log.records().size());
    }
    assertTrue(Files.exists(broken.resolve("s.json")), "an unreadable record is left for inspection, never deleted");
  }

  /** The log's content with {@code tail} after its lines, as a crash or power loss may leave it. */
  private void writeWithTail(String lines, byte[] tail) throws IOException {
    Files.createDirectories(file().getParent());
    byte[] head = lines.getBytes(StandardCharsets.UTF_8);
    byte[] content = Arrays.copyOf(head, head.length + tail.length);
    System.arraycopy(tail, 0, content, head.length, tail.length);
    Files.write(file(), content);
  }

  private static byte[] bytes(Object... parts) {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    for (Object p : parts) {
      b.writeBytes(p instanceof Integer zeros ? new byte[zeros] : ((String) p).getBytes(StandardCharsets.UTF_8));
    }
    return b.toByteArray();
  }

  @Test
  @Tag("unit")
  void aWriteThatFitsInTheZerosWrittenAheadDoesNotChangeTheFilesSize() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      log.put("a", "{\"v\":1}").join();
      long size = Files.size(file());
      byte[] content = Files.readAllBytes(file());
      int lines = "{\"key\":\"a\",\"value\":{\"v\":1}}\n".length();
      assertTrue(size >= 4096 && size % 4096 == 0, "extended by zeros, to a page at least: " + size);
      assertTrue(Arrays.equals(new byte[(int) size - lines], Arrays.copyOfRange(content, lines, (int) size)), "zeros after the lines");
      for (int i = 0; i < 20; i++) {
        log.put("k" + i, "{\"v\":" + i + "}").join();
        log.putUntilReboot("m" + i, "{}").join();
        log.remove("k" + i).join();
        assertEquals(size, Files.size(file()), "written in place: a flush with no size change to commit");
      }
      log.put("big", "{\"v\":\"" + "x".repeat((int) size) + "\"}").join();
      long grown = Files.size(file());
      assertTrue(grown >= 2 * size && grown % 4096 == 0, "a group beyond the zeros extends the file by as much as it holds: " + grown);
      assertTrue(Files.readString(file()).contains("\"m19\""), "a change until reboot is in the file once written");
    }
    assertEquals(Files.readAllLines(file()).stream().mapToLong(l -> l.length() + 1).sum(), Files.size(file()),
        "closed: cut to its lines, the file an older version reads as it always did");
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(22, log.records().size());
      assertFalse(log.records().containsKey("k3"));
    }
  }

  @Test
  @Tag("unit")
  void aLogLeftWithZerosAfterItsLinesReadsItsLines() throws Exception {
    byte[] crashed;
    try (RecordLog log = RecordLog.open(file())) {
      log.put("a", "{\"v\":1}").join();
      log.putUntilReboot("b", "{\"v\":2}").join();
      crashed = Files.readAllBytes(file()); // what a crash of the process leaves: lines, then the zeros written ahead
    }
    assertEquals(0, crashed[crashed.length - 1], "zeros after the lines");
    Files.write(file(), crashed);
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{\"v\":1}", "b", "{\"v\":2}"), log.records());
      assertEquals(0, log.skippedLines());
      log.put("c", "{}").join();
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{\"v\":1}", "b", "{\"v\":2}", "c", "{}"), log.records());
    }
  }

  @Test
  @Tag("unit")
  void aTornLineFollowedByZerosIsIgnored() throws Exception {
    writeWithTail("{\"key\":\"a\",\"value\":{}}\n", bytes("{\"key\":\"b\",\"value\":{\"v\"", 4000));
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{}"), log.records());
      assertEquals(0, log.skippedLines(), "never acknowledged: not an error");
      log.put("c", "{}").join();
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{}", "c", "{}"), log.records());
      assertEquals(0, log.skippedLines());
    }
  }

  @Test
  @Tag("unit")
  void linesAfterZerosAreNeverReadBackAlsoAfterLaterWrites() throws Exception {
    // A power loss during an unflushed group: some of its sectors reached the disk, an earlier one did not.
    writeWithTail("{\"key\":\"a\",\"value\":{}}\n",
        bytes(10, "{\"key\":\"ghost1\",\"value\":{}}\n{\"key\":\"ghost2\",\"value\":{}}\n", 100, "{\"key\":\"ghost3\",\"value\":{}}\n"));
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{}"), log.records());
      assertEquals(0, log.skippedLines());
      for (int i = 0; i < 10; i++) {
        log.put("k" + i, "{}").join(); // over where the zeros and the ghosts were
      }
      log.putUntilReboot("m", "{}").join();
      Map<String, String> expected = new java.util.HashMap<>(log.records());
      byte[] crashed = Files.readAllBytes(file());
      Files.write(dir.resolve("crashed"), crashed);
      assertEquals(11 + 1, expected.size());
      assertFalse(new String(crashed, StandardCharsets.UTF_8).contains("ghost"), "nothing of them is left in the file");
    }
    Files.copy(dir.resolve("crashed"), file(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (RecordLog log = RecordLog.open(file())) {
      assertTrue(log.records().keySet().stream().noneMatch(k -> k.startsWith("ghost")), log.records().toString());
      assertEquals(12, log.records().size());
      assertEquals(0, log.skippedLines());
    }
  }

  @Test
  @Tag("unit")
  void aGroupWhoseFlushFailedIsNotReadBackFromTheFileAsTheFailureLeftIt() throws Exception {
    HeldFlush gate = new HeldFlush();
    HeldFailure failing = new HeldFailure();
    try (RecordLog log = RecordLog.open(file(), flushes(gate, failing))) {
      CompletableFuture<Void>[] group = oneGroup(log, gate, "kept", "lost", "mounted");
      failing.held().await();
      int nul = Files.readString(file()).indexOf('\0');
      assertTrue(nul > 0 && Files.readString(file()).substring(0, nul).contains("\"lost\""), "written in place, zeros after it");
      CompletableFuture<byte[]> fileWhenTold = group[0].handle((v, e) -> {
        try {
          return Files.readAllBytes(file());
        } catch (IOException io) {
          throw new UncheckedIOException(io);
        }
      });
      failing.release().countDown();
      Files.write(dir.resolve("crashed"), fileWhenTold.get(10, TimeUnit.SECONDS));
      assertThrows(ExecutionException.class, () -> group[0].get(10, TimeUnit.SECONDS));
    }
    Files.copy(dir.resolve("crashed"), file(), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    try (RecordLog log = RecordLog.open(file())) { // as after a crash the moment the caller was told
      assertEquals(Map.of("kept", "{}", "mounted", "{}"), log.records());
    }
  }

  @Test
  @Tag("unit")
  void aValueWithANulIsRefused() throws Exception {
    try (RecordLog log = RecordLog.open(file())) {
      CompletionException e = assertThrows(CompletionException.class, () -> log.put("p", "{\"a\":\"x\u0000y\"}").join());
      assertTrue(e.getCause() instanceof IllegalArgumentException, e.getCause().toString());
      log.put("q\u0000r", "{}").join(); // a key is escaped as Jackson writes it
    }
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("q\u0000r", "{}"), log.records());
    }
  }

  @Test
  @Tag("unit")
  void aLineCutInACharacterIsUnreadableNotFatal() throws Exception {
    byte[] line = "{\"key\":\"é\",\"value\":{}}\n".getBytes(StandardCharsets.UTF_8);
    writeWithTail("{\"key\":\"a\",\"value\":{}}\n", Arrays.copyOf(line, 9)); // torn inside the é
    try (RecordLog log = RecordLog.open(file())) {
      assertEquals(Map.of("a", "{}"), log.records());
      assertEquals(0, log.skippedLines());
    }
  }
}
