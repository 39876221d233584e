package dev.csinode.agent.cache;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ActualStateJournalTest {
  @TempDir Path dir;

  static VolumeSpec spec(String name, boolean block) {
    return new VolumeSpec("kubernetes.io/csi/d^" + name, "d", name, "pv-" + name, false, block, "", List.of(), "ReadWriteOnce",
        Map.of(), null, null, true, false, "ReadWriteOnceWithFSType", "pv-" + name, "default/c");
  }

  static ActualStateJournal.Entry entry(String boot, VolumeSpec s, DeviceState device, MountedPod... pods) {
    return new ActualStateJournal.Entry(boot, s, true, Map.of("k", "v"), device, "/stage/" + s.volumeHandle(), List.of(pods));
  }

  static List<ActualStateJournal.Entry> reopen(Path dir) {
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      return j.readAll();
    }
  }

  @Test
  void recordsSurviveAReopenTheLastOneWinsAndAnEmptyVolumeRemovesItsRecord() throws Exception {
    VolumeSpec s = spec("a", false);
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(entry("boot-1", s, DeviceState.UNCERTAIN)).get();
      j.append(entry("boot-1", s, DeviceState.MOUNTED, new MountedPod("u1", "default/p", MountState.MOUNTED, "/t/a"))).get();
      j.append(entry("boot-1", spec("b", false), DeviceState.MOUNTED)).get();
    }
    List<ActualStateJournal.Entry> read = reopen(dir);
    assertEquals(2, read.size());
    var a = read.stream().filter(e -> e.spec().equals(s)).findFirst().orElseThrow();
    assertEquals(DeviceState.MOUNTED, a.device(), "the last record wins");
    assertEquals(1, a.pods().size());
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(new ActualStateJournal.Entry("boot-1", s, false, Map.of(), DeviceState.NOT_MOUNTED, null, List.of())).get();
    }
    assertEquals(1, reopen(dir).size(), "a volume with nothing left on the node has no record");
  }

  @Test
  void anInlineVolumeRecordedUnderAnAmbiguousNameIsMovedToItsNameAndKeepsItsHandle() throws Exception {
    // What the last version wrote for uid "pod-a", volume "x": the name kubernetes.io/csi/pod-a-x (also uid "pod",
    // volume "a-x") and the handle csi-sha256("pod-ax").
    String legacyHandle = "csi-" + dev.csinode.agent.volume.KubeletLayout.sha256("pod-ax");
    VolumeSpec legacy = new VolumeSpec("kubernetes.io/csi/pod-a-x", "d", legacyHandle, "x", true, false, "", List.of(),
        "ReadWriteOnce", Map.of(), null, null, false, false, "ReadWriteOnceWithFSType", null, null);
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(new ActualStateJournal.Entry("boot-1", legacy, false, Map.of(), DeviceState.NOT_MOUNTED, null,
          List.of(new MountedPod("pod-a", "default/a", MountState.MOUNTED, "/pods/pod-a/volumes/kubernetes.io~csi/x/mount")))).get();
    }
    String name = dev.csinode.agent.volume.KubeletLayout.uniqueInlineVolumeName("pod-a", "x");
    assertEquals("kubernetes.io/csi/pod-a/x", name);
    List<ActualStateJournal.Entry> read = reopen(dir);
    assertEquals(1, read.size());
    assertEquals(name, read.get(0).spec().uniqueName());
    assertEquals(legacyHandle, read.get(0).spec().volumeHandle(), "the driver knows the volume by its old handle");
    List<ActualStateJournal.Entry> again = reopen(dir);
    assertEquals(List.of(name), again.stream().map(e -> e.spec().uniqueName()).toList(), "the record under the old name is gone");
  }

  @Test
  void manyConcurrentAppendsAreAllDurableAndCompacted() throws Exception {
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      var all = new java.util.ArrayList<java.util.concurrent.CompletableFuture<Void>>();
      for (int round = 0; round < 5; round++) {
        for (int i = 0; i < 500; i++) {
          all.add(j.append(entry("boot-1", spec("v" + i, false), round % 2 == 0 ? DeviceState.UNCERTAIN : DeviceState.MOUNTED)));
        }
      }
      java.util.concurrent.CompletableFuture.allOf(all.toArray(new java.util.concurrent.CompletableFuture[0])).get();
    }
    List<ActualStateJournal.Entry> read = reopen(dir);
    assertEquals(500, read.size());
    assertTrue(read.stream().allMatch(e -> e.device() == DeviceState.UNCERTAIN), "round 4 (even) was last");
    assertTrue(java.nio.file.Files.readAllLines(dir.resolve("journal/journal.log")).size() <= 500, "compacted on open");
  }

  @Test
  void aTornLastLineFromACrashIsIgnored() throws Exception {
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(entry("boot-1", spec("a", false), DeviceState.MOUNTED)).get();
    }
    java.nio.file.Files.writeString(dir.resolve("journal/journal.log"), "{\"volume\":\"kubernetes.io/csi/d^b\",\"entry\":{\"bo",
        java.nio.file.StandardOpenOption.APPEND);
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      assertEquals(1, j.readAll().size());
      assertEquals(0, j.skippedRecords(), "a torn last line was never acknowledged: not an error");
    }
  }

  @Test
  void sameBootTrustsOnlyWhatIsReallyMounted() {
    Set<Path> mounted = Set.of(Path.of("/stage/a"), Path.of("/t/a1"));
    ActualStateOfWorld asw = new ActualStateOfWorld();
    ActualStateJournal.reconstruct(List.of(
        entry("boot-1", spec("a", false), DeviceState.MOUNTED,
            new MountedPod("u1", "default/p1", MountState.MOUNTED, "/t/a1"),
            new MountedPod("u2", "default/p2", MountState.MOUNTED, "/t/a2"),   // recorded, but gone from the host
            new MountedPod("u3", "default/p3", MountState.UNCERTAIN, "/t/a1")), // mounted, but its call never finished
        entry("boot-1", spec("b", false), DeviceState.MOUNTED),                  // staging mount gone
        entry("boot-1", spec("c", true), DeviceState.MOUNTED)),                  // block: no mount to check
        "boot-1", mounted::contains, asw);
    var a = asw.get("kubernetes.io/csi/d^a");
    assertEquals(DeviceState.MOUNTED, a.device);
    assertEquals(MountState.MOUNTED, a.pods.get("u1").state());
    assertEquals(MountState.UNCERTAIN, a.pods.get("u2").state());
    assertEquals(MountState.UNCERTAIN, a.pods.get("u3").state());
    assertEquals(DeviceState.UNCERTAIN, asw.get("kubernetes.io/csi/d^b").device);
    assertEquals(DeviceState.MOUNTED, asw.get("kubernetes.io/csi/d^c").device);
    assertTrue(a.attached);
    assertEquals(Map.of("k", "v"), a.publishContext);
  }

  @Test
  void afterARebootNothingIsMountedButAttachmentsRemain() {
    ActualStateOfWorld asw = new ActualStateOfWorld();
    ActualStateJournal.reconstruct(List.of(entry("boot-0", spec("a", false), DeviceState.MOUNTED,
        new MountedPod("u1", "default/p1", MountState.MOUNTED, "/t/a1"))), "boot-1", p -> true, asw);
    var a = asw.get("kubernetes.io/csi/d^a");
    assertEquals(DeviceState.NOT_MOUNTED, a.device);
    assertTrue(a.pods.isEmpty());
    assertTrue(a.attached, "a ControllerPublish outlives a reboot; teardown must still detach");
  }

  @Test
  void anUnreadableLineInTheMiddleIsSkippedAndCounted() throws Exception {
    java.nio.file.Files.createDirectories(dir.resolve("journal"));
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(entry("boot-1", spec("a", false), DeviceState.MOUNTED)).get();
    }
    java.nio.file.Files.writeString(dir.resolve("journal/journal.log"), "{not json\n", java.nio.file.StandardOpenOption.APPEND);
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      j.readAll();
      j.append(entry("boot-1", spec("b", false), DeviceState.MOUNTED)).get();
    }
    // The bad line is now in the middle (compaction at the second open dropped it, so write one again).
    java.nio.file.Files.writeString(dir.resolve("journal/journal.log"), "{not json\n" + java.nio.file.Files.readString(dir.resolve("journal/journal.log")));
    try (ActualStateJournal j = new ActualStateJournal(dir, "boot-1")) {
      assertEquals(2, j.readAll().size());
      assertEquals(1, j.skippedRecords());
    }
  }
}
