package dev.csinode.hostpath;

import static dev.csinode.hostpath.DriverFixture.mountCap;
import static dev.csinode.hostpath.DriverFixture.mounted;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.mount.LoopDevices;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The driver's state dir runs out of space (a small tmpfs, filled): every creation that fails for it leaves nothing
 * behind (no directory, no image, no snapshot file, no record), the capacity it had claimed is free again, and the
 * same creation succeeds once there is space.
 */
class FullStateDiskTest {
  static final long MIB = 1 << 20;
  DriverFixture d;
  private int slackVolumes;

  @BeforeEach
  void start() throws Exception {
    d = DriverFixture.withStateDisk(8 * MIB);
  }

  @AfterEach
  void stop() throws Exception {
    d.close();
  }

  private CreateVolumeRequest.Builder req(String name, String kind) {
    return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mountCap()).putParameters("kind", kind)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(32 * MIB));
  }

  private long available() {
    return d.call(ControllerGrpcClient.GetCapacity, GetCapacityRequest.getDefaultInstance()).getAvailableCapacity();
  }

  private List<String> volumeIds() {
    return d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesList().stream()
        .map(e -> e.getVolume().getVolumeId()).toList();
  }

  private static void assertOutOfSpace(GrpcCallException e) {
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, e.status(), e.statusMessage());
    assertTrue(e.statusMessage().contains("No space left on device"), e.statusMessage());
  }

  @ParameterizedTest
  @ValueSource(strings = {"directory", "filesystem"})
  void aCreateVolumeThatRunsOutOfSpaceLeavesNothing(String kind) throws Exception {
    long before = available();
    Path filler = d.fillStateDisk();
    for (int i = 0; i < 20; i++) {
      assertOutOfSpace(d.failure(ControllerGrpcClient.CreateVolume, req("full-" + i, kind).build()));
    }
    assertEquals(List.of(), d.dataEntries(), "failed creations leave no data behind");
    assertEquals(List.of(), volumeIds(), "nor a volume");
    assertEquals(before, available(), "nor claimed capacity");

    Files.delete(filler);
    Volume v = d.call(ControllerGrpcClient.CreateVolume, req("full-0", kind).build()).getVolume();
    assertEquals(List.of("volumes/" + v.getVolumeId() + (kind.equals("filesystem") ? ".img" : "")), d.dataEntries());
    d.restart();
    assertEquals(List.of(v.getVolumeId()), volumeIds(), "a restarted driver knows the one volume that was made, no other");
  }

  @ParameterizedTest
  @ValueSource(strings = {"directory", "filesystem"})
  void copiesAndSnapshotsThatRunOutOfSpaceLeaveNothing(String kind) throws Exception {
    Volume source = d.call(ControllerGrpcClient.CreateVolume, req("source", kind).build()).getVolume();
    byte[] data = new byte[(int) MIB];
    new Random(1).nextBytes(data);
    if (kind.equals("filesystem")) {
      Files.write(d.root.resolve("state/volumes").resolve(source.getVolumeId() + ".img"), data,
          StandardOpenOption.WRITE);
    } else {
      Files.write(d.root.resolve("state/volumes").resolve(source.getVolumeId()).resolve("blob"), data);
    }
    Snapshot snapshot = d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("snap")
        .setSourceVolumeId(source.getVolumeId()).build()).getSnapshot();
    List<String> entries = d.dataEntries();
    long before = available();
    Path filler = d.fillStateDisk();

    assertOutOfSpace(d.failure(ControllerGrpcClient.CreateVolume, req("restored", kind).setVolumeContentSource(
        VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder()
            .setSnapshotId(snapshot.getSnapshotId()))).build()));
    assertOutOfSpace(d.failure(ControllerGrpcClient.CreateVolume, req("clone", kind).setVolumeContentSource(
        VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder()
            .setVolumeId(source.getVolumeId()))).build()));
    assertOutOfSpace(d.failure(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("snap-2")
        .setSourceVolumeId(source.getVolumeId()).build()));
    assertEquals(entries, d.dataEntries(), "no partial copy, image or snapshot file is left");
    assertEquals(List.of(source.getVolumeId()), volumeIds());
    assertEquals(List.of(snapshot.getSnapshotId()), d.call(ControllerGrpcClient.ListSnapshots,
        ListSnapshotsRequest.getDefaultInstance()).getEntriesList().stream().map(e -> e.getSnapshot().getSnapshotId()).toList());
    assertEquals(before, available());

    Files.delete(filler);
    d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("snap-2")
        .setSourceVolumeId(source.getVolumeId()).build());
    assertEquals(entries.size() + 1, d.dataEntries().size(), "the snapshot is made once there is space");
  }

  /**
   * Fills the disk, then the slack of the state log's last page: volumes are created until the record of one no
   * longer fits. A stage or publish record (a volume's record and more) cannot be written after that.
   */
  private Path fillAndBreakTheStateLog() throws Exception {
    Path filler = d.fillStateDisk();
    for (int i = 0; i < 200; i++) {
      CreateVolumeRequest slack = req("slack-" + slackVolumes++, "directory").build();
      try {
        d.call(ControllerGrpcClient.CreateVolume, slack);
      } catch (GrpcCallException full) {
        assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, full.status(), "" + full);
        return filler;
      }
    }
    throw new AssertionError("the state log never ran out of space");
  }

  /** Regression: a stage or publish whose record could not be written left its mount (and loop device) behind. */
  @ParameterizedTest
  @ValueSource(strings = {"directory", "filesystem"})
  void aStageOrPublishThatCannotBeRecordedLeavesNothingMounted(String kind) throws Exception {
    String id = d.call(ControllerGrpcClient.CreateVolume, req("staged", kind).build()).getVolume().getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("pod", "vol");
    if (kind.equals("filesystem")) {
      d.stage(id, staging, mountCap()); // formats the image while there is space
      d.unstage(id, staging);
    }
    Path filler = fillAndBreakTheStateLog();
    var e = d.failure(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build());
    assertNotEquals(GrpcStatus.OK, e.status());
    assertFalse(mounted(staging), "a failed stage leaves nothing mounted");
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(id)), "nor a loop device");

    Files.delete(filler);
    d.stage(id, staging, mountCap());
    filler = fillAndBreakTheStateLog();
    var p = d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(mountCap()).build());
    assertNotEquals(GrpcStatus.OK, p.status());
    assertFalse(mounted(target), "a failed publish leaves nothing mounted");
    assertTrue(mounted(staging), "the stage before it stays");

    Files.delete(filler);
    d.publish(id, staging, target, mountCap(), false);
    d.unpublish(id, target);
    d.unstage(id, staging);
  }

  @Test
  void anEphemeralVolumeThatRunsOutOfSpaceLeavesNothing() throws Exception {
    String id = "csi-" + "e".repeat(64);
    Path target = d.target("pod-e", "inline");
    Files.createDirectories(target.getParent());
    NodePublishVolumeRequest publish = NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setTargetPath(target.toString()).setVolumeCapability(mountCap())
        .putVolumeContext(NodeServer.EPHEMERAL_KEY, "true").build();
    long before = available();
    Path filler = d.fillStateDisk();
    for (int i = 0; i < 5; i++) {
      assertOutOfSpace(d.failure(NodeGrpcClient.NodePublishVolume, publish));
    }
    assertFalse(mounted(target));
    assertFalse(Files.exists(target), "the target is not made for a volume that could not be made");
    assertEquals(List.of(), d.dataEntries());
    assertEquals(List.of(), volumeIds());
    assertEquals(before, available());

    Files.delete(filler);
    d.call(NodeGrpcClient.NodePublishVolume, publish);
    assertTrue(mounted(target));
    d.unpublish(id, target);
    assertEquals(List.of(), d.dataEntries());
  }
}
