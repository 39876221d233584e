package dev.csinode.hostpath;

import static dev.csinode.hostpath.DriverFixture.mountCap;
import static dev.csinode.hostpath.DriverFixture.blockCap;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ControllerConformanceTest {
  static final long MIB = 1 << 20;
  DriverFixture d;

  @BeforeEach
  void start() throws Exception {
    d = new DriverFixture(false, 0, 1024 * MIB);
  }

  @AfterEach
  void stop() throws Exception {
    d.close();
  }

  private CreateVolumeRequest.Builder req(String name) {
    return CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(mountCap());
  }

  @Test
  void createVolumeValidatesRequiredFields() {
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().addVolumeCapabilities(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("a").build()));
    var noMode = VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance()).build();
    var e = d.failure(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("a").addVolumeCapabilities(noMode).build());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
    assertTrue(e.statusMessage().contains("access_mode"), e.statusMessage());
    var noType = VolumeCapability.newBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder().setModeValue(1)).build();
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("a").addVolumeCapabilities(noType).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, req("bad\u0001name").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, req("a").putParameters("kind", "nfs").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume, req("a").putParameters("color", "blue").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume,
        CreateVolumeRequest.newBuilder().setName("a").addVolumeCapabilities(blockCap()).putParameters("kind", "directory").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume,
        req("a").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(-1)).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateVolume,
        req("a").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(10 * MIB).setLimitBytes(MIB)).build()));
    assertEquals(0, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesCount(),
        "no rejected request may leave a volume behind");
  }

  @Test
  void createVolumeIsIdempotentByName() {
    Volume a = d.call(ControllerGrpcClient.CreateVolume, req("vol").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(10 * MIB)).build()).getVolume();
    Volume b = d.call(ControllerGrpcClient.CreateVolume, req("vol").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(10 * MIB)).build()).getVolume();
    assertEquals(a.getVolumeId(), b.getVolumeId());
    assertEquals(10 * MIB, a.getCapacityBytes());
    assertEquals(DriverFixture.NODE, a.getAccessibleTopology(0).getSegmentsMap().get(HostpathConfig.TOPOLOGY_KEY));
    var e = d.failure(ControllerGrpcClient.CreateVolume, req("vol").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(20 * MIB)).build());
    assertEquals(GrpcStatus.ALREADY_EXISTS, e.status());
    assertTrue(e.statusMessage().contains("vol"), e.statusMessage());
    assertEquals(1, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesCount());
  }

  @Test
  void capacityLimitsGiveOutOfRangeAndResourceExhausted() {
    assertEquals(GrpcStatus.OUT_OF_RANGE, d.fails(ControllerGrpcClient.CreateVolume,
        req("huge").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(Long.MAX_VALUE)).build()));
    assertEquals(GrpcStatus.OUT_OF_RANGE, d.fails(ControllerGrpcClient.CreateVolume, req("tiny").putParameters("kind", "filesystem")
        .setCapacityRange(CapacityRange.newBuilder().setLimitBytes(MIB)).build()), "below the ext4 minimum");
    d.create("big", "filesystem", 900 * MIB, mountCap());
    var e = d.failure(ControllerGrpcClient.CreateVolume, req("more").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(200 * MIB)).build());
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, e.status());
    GetCapacityResponse cap = d.call(ControllerGrpcClient.GetCapacity, GetCapacityRequest.getDefaultInstance());
    assertEquals(124 * MIB, cap.getAvailableCapacity());
  }

  @Test
  void unsatisfiableTopologyIsRefused() {
    var top = Topology.newBuilder().putSegments(HostpathConfig.TOPOLOGY_KEY, "other-node");
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, d.fails(ControllerGrpcClient.CreateVolume,
        req("t").setAccessibilityRequirements(TopologyRequirement.newBuilder().addRequisite(top)).build()));
    var ours = Topology.newBuilder().putSegments(HostpathConfig.TOPOLOGY_KEY, DriverFixture.NODE);
    d.call(ControllerGrpcClient.CreateVolume, req("t").setAccessibilityRequirements(TopologyRequirement.newBuilder().addRequisite(ours)).build());
  }

  @Test
  void deleteVolumeIsIdempotentAndRemovesData() {
    Volume v = d.create("v", "directory", MIB, mountCap());
    assertTrue(Files.isDirectory(d.root.resolve("state/volumes").resolve(v.getVolumeId())));
    d.delete(v.getVolumeId());
    d.delete(v.getVolumeId());
    d.delete("never-existed");
    assertFalse(Files.exists(d.root.resolve("state/volumes").resolve(v.getVolumeId())));
    Volume kept = d.create("kept", "directory", MIB, mountCap());
    d.restart();
    var listed = d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesList();
    assertEquals(List.of(kept.getVolumeId()), listed.stream().map(e -> e.getVolume().getVolumeId()).toList(),
        "the deletion is durable: a restarted driver knows only the kept volume");
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.getDefaultInstance()));
  }

  @Test
  void hostileIdsNeverReachAPathOutsideTheStateDir() throws Exception {
    Files.createDirectories(d.root.resolve("victim"));
    Files.writeString(d.root.resolve("victim/keep.txt"), "keep");
    for (String id : new String[] {"../../victim", "../victim", "/etc", "a/../../victim", "..", "."}) {
      d.call(ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
      assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
          .setStagingTargetPath(d.root.resolve("s").toString()).setVolumeCapability(mountCap()).build()), id);
      assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder()
          .setName("s").setSourceVolumeId(id).build()), id);
      d.call(ControllerGrpcClient.DeleteSnapshot, DeleteSnapshotRequest.newBuilder().setSnapshotId(id).build());
    }
    assertEquals("keep", Files.readString(d.root.resolve("victim/keep.txt")));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder()
        .setVolumeId("../x").setTargetPath(d.root.resolve("t").toString()).setVolumeCapability(mountCap())
        .putVolumeContext("csi.storage.k8s.io/ephemeral", "true").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId("x").setStagingTargetPath(d.root + "/a/../../b").setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId("x").setStagingTargetPath("relative/path").setVolumeCapability(mountCap()).build()));
  }

  @Test
  void listVolumesPagesWithTokens() {
    Set<String> created = new HashSet<>();
    for (int i = 0; i < 7; i++) {
      created.add(d.create("v" + i, null, MIB, mountCap()).getVolumeId());
    }
    Set<String> seen = new HashSet<>();
    String token = "";
    int pages = 0;
    do {
      ListVolumesResponse r = d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.newBuilder().setMaxEntries(3).setStartingToken(token).build());
      assertTrue(r.getEntriesCount() <= 3);
      r.getEntriesList().forEach(e -> assertTrue(seen.add(e.getVolume().getVolumeId()), "listed twice"));
      token = r.getNextToken();
      pages++;
    } while (!token.isEmpty());
    assertEquals(3, pages);
    assertEquals(created, seen);
    assertEquals(GrpcStatus.ABORTED, d.fails(ControllerGrpcClient.ListVolumes, ListVolumesRequest.newBuilder().setStartingToken("bogus").build()));
    assertEquals(GrpcStatus.ABORTED, d.fails(ControllerGrpcClient.ListVolumes, ListVolumesRequest.newBuilder().setStartingToken("99").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.ListVolumes, ListVolumesRequest.newBuilder().setMaxEntries(-1).build()));
  }

  @Test
  void validateVolumeCapabilities() {
    Volume v = d.create("v", null, MIB, mountCap());
    var ok = d.call(ControllerGrpcClient.ValidateVolumeCapabilities, ValidateVolumeCapabilitiesRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).addVolumeCapabilities(mountCap()).build());
    assertTrue(ok.hasConfirmed());
    var no = d.call(ControllerGrpcClient.ValidateVolumeCapabilities, ValidateVolumeCapabilitiesRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).addVolumeCapabilities(blockCap()).build());
    assertFalse(no.hasConfirmed());
    assertFalse(no.getMessage().isEmpty());
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.ValidateVolumeCapabilities, ValidateVolumeCapabilitiesRequest.newBuilder()
        .setVolumeId("missing").addVolumeCapabilities(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.ValidateVolumeCapabilities, ValidateVolumeCapabilitiesRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).build()));
  }

  @Test
  void controllerGetVolumeAndPublishWithoutAttach() {
    Volume v = d.create("v", null, MIB, mountCap());
    var got = d.call(ControllerGrpcClient.ControllerGetVolume, ControllerGetVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build());
    assertEquals(v.getVolumeId(), got.getVolume().getVolumeId());
    assertFalse(got.getStatus().getVolumeCondition().getAbnormal());
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.ControllerGetVolume, ControllerGetVolumeRequest.newBuilder().setVolumeId("nope").build()));
    assertEquals(GrpcStatus.UNIMPLEMENTED, d.fails(ControllerGrpcClient.ControllerPublishVolume, ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).setNodeId(DriverFixture.NODE).setVolumeCapability(mountCap()).build()));
  }

  @Test
  void snapshotsAreIdempotentListedAndDeleted() {
    Volume v = d.create("v", null, MIB, mountCap());
    Volume w = d.create("w", null, MIB, mountCap());
    Snapshot s = d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("s1").setSourceVolumeId(v.getVolumeId()).build()).getSnapshot();
    assertTrue(s.getReadyToUse());
    assertEquals(v.getVolumeId(), s.getSourceVolumeId());
    assertTrue(s.getCreationTime().getSeconds() > 0);
    Snapshot again = d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("s1").setSourceVolumeId(v.getVolumeId()).build()).getSnapshot();
    assertEquals(s.getSnapshotId(), again.getSnapshotId());
    assertEquals(GrpcStatus.ALREADY_EXISTS, d.fails(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("s1").setSourceVolumeId(w.getVolumeId()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("s2").setSourceVolumeId("missing").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setSourceVolumeId(v.getVolumeId()).build()));
    d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("s3").setSourceVolumeId(w.getVolumeId()).build());
    assertEquals(2, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.getDefaultInstance()).getEntriesCount());
    assertEquals(1, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.newBuilder().setSourceVolumeId(v.getVolumeId()).build()).getEntriesCount());
    assertEquals(1, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build()).getEntriesCount());
    assertEquals(0, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.newBuilder().setSnapshotId("unknown").build()).getEntriesCount());
    var page = d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.newBuilder().setMaxEntries(1).build());
    assertEquals(1, page.getEntriesCount());
    assertEquals(1, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.newBuilder().setStartingToken(page.getNextToken()).build()).getEntriesCount());
    d.call(ControllerGrpcClient.DeleteSnapshot, DeleteSnapshotRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build());
    d.call(ControllerGrpcClient.DeleteSnapshot, DeleteSnapshotRequest.newBuilder().setSnapshotId(s.getSnapshotId()).build());
    assertEquals(1, d.call(ControllerGrpcClient.ListSnapshots, ListSnapshotsRequest.getDefaultInstance()).getEntriesCount());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.DeleteSnapshot, DeleteSnapshotRequest.getDefaultInstance()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.CreateVolume, req("from-missing").setVolumeContentSource(
        VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId("missing"))).build()));
  }

  @Test
  void controllerExpandValidatesAndGrows() {
    Volume v = d.create("v", "filesystem", 32 * MIB, mountCap());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder().setVolumeId(v.getVolumeId()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder()
        .setVolumeId("missing").setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(MIB)).build()));
    assertEquals(GrpcStatus.OUT_OF_RANGE, d.fails(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(Long.MAX_VALUE / 2)).build()));
    var r = d.call(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 * MIB)).build());
    assertEquals(64 * MIB, r.getCapacityBytes());
    assertTrue(r.getNodeExpansionRequired());
    var again = d.call(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder()
        .setVolumeId(v.getVolumeId()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64 * MIB)).build());
    assertEquals(64 * MIB, again.getCapacityBytes());
  }
}
