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

  @Test
  void recordsRoundTripAndAnEmptyVolumeRemovesItsRecord() throws Exception {
    ActualStateJournal j = new ActualStateJournal(dir, "boot-1");
    VolumeSpec s = spec("a", false);
    j.write(entry("boot-1", s, DeviceState.MOUNTED, new MountedPod("u1", "default/p", MountState.MOUNTED, "/t/a")));
    assertEquals(1, j.readAll().size());
    assertEquals(s, j.readAll().get(0).spec());
    j.write(new ActualStateJournal.Entry("boot-1", s, false, Map.of(), DeviceState.NOT_MOUNTED, null, List.of()));
    assertTrue(j.readAll().isEmpty());
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
  void anUnreadableRecordIsSkippedAndCounted() throws Exception {
    ActualStateJournal j = new ActualStateJournal(dir, "boot-1");
    j.write(entry("boot-1", spec("a", false), DeviceState.MOUNTED));
    java.nio.file.Files.writeString(dir.resolve("journal/garbage.json"), "{not json");
    assertEquals(1, j.readAll().size());
    assertEquals(1, j.skippedRecords());
  }
}
