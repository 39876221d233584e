package dev.csinode.agent.reconciler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.VolumeDirectories.Found;
import dev.csinode.agent.volume.VolumeDirectories.Scan;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a restart adds to the actual state from what the disk shows and the journal does not know. */
@Tag("unit")
class VolumeReconstructionTest {
  static final String DRIVER = "fake.csi.dev";
  static final String UID = "6c1a2b3c-0000-4000-8000-000000000001";
  @TempDir Path tmp;
  KubeletLayout layout;
  final ActualStateOfWorld asw = new ActualStateOfWorld();

  @BeforeEach
  void setUp() {
    layout = new KubeletLayout(tmp.resolve("kubelet"));
  }

  Found podVolume(String handle, boolean inline, boolean mounted) {
    return new Found(UID, "pv-" + handle, DRIVER, handle, inline, false, layout.publishPath(UID, "pv-" + handle), mounted);
  }

  Found staging(String handle, boolean mounted) {
    return new Found(null, "pv-" + handle, DRIVER, handle, false, false, layout.stagingPath(DRIVER, handle), mounted);
  }

  static Scan scan(List<Found> pods, List<Found> staging) {
    return new Scan(pods, staging, List.of());
  }

  @Test
  void aMountedPodVolumeTheJournalDoesNotKnowComesBackUncertainWithItsStaging() {
    List<String> added = VolumeReconstruction.addFromDisk(scan(List.of(podVolume("h1", false, true)), List.of()), layout, asw);
    String unique = KubeletLayout.uniqueVolumeName(DRIVER, "h1");
    assertEquals(List.of(unique), added);
    AttachedVolume v = asw.get(unique);
    assertEquals(MountState.UNCERTAIN, v.pods.get(UID).state());
    assertEquals(UID, v.pods.get(UID).podKey(), "the disk knows only the uid");
    assertEquals(DeviceState.UNCERTAIN, v.device, "its staging may be mounted too: torn down or staged again");
    assertEquals(layout.stagingPath(DRIVER, "h1").toString(), v.stagingPath);
  }

  @Test
  void aPodVolumeWithNothingMountedIsLeftToTheOrphanCleanup() {
    List<String> added = VolumeReconstruction.addFromDisk(scan(List.of(podVolume("h1", false, false)), List.of(staging("h1", false))),
        layout, asw);
    assertEquals(List.of(), added);
    assertEquals(List.of(), List.copyOf(asw.volumes()));
  }

  @Test
  void theJournalsRecordOfAPodWins() {
    String unique = KubeletLayout.uniqueVolumeName(DRIVER, "h1");
    AttachedVolume known = asw.getOrAdd(specOf(unique, "h1"));
    known.device = DeviceState.MOUNTED;
    known.stagingPath = "/journal/staging";
    MountedPod journaled = new MountedPod(UID, "default/pod-a", MountState.MOUNTED, "/journal/target");
    known.pods.put(UID, journaled);
    List<String> added = VolumeReconstruction.addFromDisk(scan(List.of(podVolume("h1", false, true)), List.of(staging("h1", true))),
        layout, asw);
    assertEquals(List.of(), added);
    assertEquals(journaled, asw.get(unique).pods.get(UID));
    assertEquals(DeviceState.MOUNTED, asw.get(unique).device);
    assertEquals("/journal/staging", asw.get(unique).stagingPath);
  }

  @Test
  void aMountedInlineVolumeHasNoStaging() {
    Found f = podVolume("csi-abc", true, true);
    List<String> added = VolumeReconstruction.addFromDisk(scan(List.of(f), List.of()), layout, asw);
    String unique = KubeletLayout.uniqueInlineVolumeName(UID, f.specName());
    assertEquals(List.of(unique), added);
    assertEquals(DeviceState.NOT_MOUNTED, asw.get(unique).device);
    assertNull(asw.get(unique).stagingPath);
  }

  @Test
  void aMountedStagingPathAloneComesBackUncertainAndAnUnmountedOneIsIgnored() {
    List<String> added = VolumeReconstruction.addFromDisk(scan(List.of(), List.of(staging("h1", true), staging("h2", false))),
        layout, asw);
    String unique = KubeletLayout.uniqueVolumeName(DRIVER, "h1");
    assertEquals(List.of(unique), added);
    assertEquals(DeviceState.UNCERTAIN, asw.get(unique).device);
    assertEquals(layout.stagingPath(DRIVER, "h1").toString(), asw.get(unique).stagingPath);
    assertNull(asw.get(KubeletLayout.uniqueVolumeName(DRIVER, "h2")));
  }

  @Test
  void aStagingTheJournalKnowsAsMountedIsLeftAsTheJournalSaysIt() {
    String unique = KubeletLayout.uniqueVolumeName(DRIVER, "h1");
    AttachedVolume known = asw.getOrAdd(specOf(unique, "h1"));
    known.device = DeviceState.MOUNTED;
    known.stagingPath = "/journal/staging";
    assertEquals(List.of(), VolumeReconstruction.addFromDisk(scan(List.of(), List.of(staging("h1", true))), layout, asw));
    assertEquals(DeviceState.MOUNTED, asw.get(unique).device);
    assertEquals("/journal/staging", asw.get(unique).stagingPath);
  }

  static VolumeSpec specOf(String unique, String handle) {
    return new VolumeSpec(unique, DRIVER, handle, "pv-" + handle, false, false, "ext4", List.of(),
        "ReadWriteOnce", Map.of(), null, null, false, false, "None", "pv-" + handle, "default/claim");
  }
}
