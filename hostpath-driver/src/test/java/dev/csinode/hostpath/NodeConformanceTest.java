package dev.csinode.hostpath;

import static dev.csinode.hostpath.DriverFixture.blockCap;
import static dev.csinode.hostpath.DriverFixture.mountCap;
import static dev.csinode.hostpath.DriverFixture.mounted;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.mount.Filesystems;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class NodeConformanceTest {
  static final long MIB = 1 << 20;
  DriverFixture d;

  @BeforeEach
  void start() throws Exception {
    d = new DriverFixture();
  }

  @AfterEach
  void stop() throws Exception {
    d.close();
  }

  /** The full life of a mount volume of each kind, with a file written through the target path landing in the volume. */
  @ParameterizedTest
  @ValueSource(strings = {"directory", "filesystem"})
  void wholeLifeOfAMountVolume(String kind) throws Exception {
    Volume v = d.create("life-" + kind, kind, 32 * MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("pod-a", "vol");
    Files.createDirectories(target.getParent());
    d.stage(id, staging, mountCap());
    d.stage(id, staging, mountCap()); // idempotent
    assertTrue(mounted(staging));
    assertEquals(kind.equals("filesystem") ? "ext4" : MountTable.read().at(staging).orElseThrow().fsType(),
        MountTable.read().at(staging).orElseThrow().fsType());
    d.publish(id, staging, target, mountCap(), false);
    d.publish(id, staging, target, mountCap(), false); // idempotent
    assertTrue(mounted(target));
    Files.writeString(target.resolve("data.txt"), "written through the pod path");
    assertEquals("written through the pod path", Files.readString(staging.resolve("data.txt")), "the file lands in the volume");
    if (kind.equals("directory")) {
      assertEquals("written through the pod path", Files.readString(d.root.resolve("state/volumes").resolve(id).resolve("data.txt")));
    }
    d.unpublish(id, target);
    d.unpublish(id, target); // idempotent
    assertFalse(mounted(target));
    assertFalse(Files.exists(target), "the driver removes the target it created");
    d.unstage(id, staging);
    d.unstage(id, staging); // idempotent
    assertFalse(mounted(staging));
    if (kind.equals("filesystem")) {
      assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(id)), "unstage detaches the loop device");
    }
    // The data survives unstage and a second stage: the filesystem is not formatted again.
    d.stage(id, staging, mountCap());
    assertEquals("written through the pod path", Files.readString(staging.resolve("data.txt")));
    d.unstage(id, staging);
    d.delete(id);
    assertEquals(0, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesCount());
  }

  @Test
  void wholeLifeOfABlockVolume() throws Exception {
    Volume v = d.create("raw", null, 16 * MIB, blockCap());
    String id = v.getVolumeId();
    Path staging = d.root.resolve("plugins/kubernetes.io/csi/volumeDevices/staging/raw");
    Path target = d.root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/raw/pod-b");
    Files.createDirectories(staging);
    d.stage(id, staging, blockCap());
    d.publish(id, staging, target, blockCap(), false);
    d.publish(id, staging, target, blockCap(), false);
    assertTrue(mounted(target));
    assertTrue(MountTable.read().at(target).orElseThrow().source().startsWith("/dev/loop") || MountTable.read().at(target).isPresent());
    byte[] payload = "block payload".getBytes();
    try (FileChannel ch = FileChannel.open(target, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(payload), 4096);
      ch.force(true);
    }
    var stats = d.call(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id).setVolumePath(target.toString()).build());
    assertEquals(16 * MIB, stats.getUsage(0).getTotal());
    d.unpublish(id, target);
    d.unstage(id, staging);
    // The bytes are in the image behind the loop device.
    try (FileChannel img = FileChannel.open(d.root.resolve("state/volumes").resolve(id + ".img"))) {
      ByteBuffer back = ByteBuffer.allocate(payload.length);
      img.read(back, 4096);
      assertArrayEquals(payload, back.array());
    }
    assertEquals(GrpcStatus.FAILED_PRECONDITION, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(d.staging(id).toString()).setVolumeCapability(mountCap()).build()), "a block volume cannot be mounted");
    d.delete(id);
  }

  @Test
  void readOnlyPublishIsARealReadOnlyMountAndFlagsApply() throws Exception {
    Volume v = d.create("ro", null, MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path rw = d.target("pod-rw", "vol");
    Path ro = d.target("pod-ro", "vol");
    var cap = mountCap(VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER);
    var noexec = mountCap(VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER, "noexec", "nosuid");
    d.stage(id, staging, cap);
    d.publish(id, staging, rw, noexec, false);
    d.publish(id, staging, ro, cap, true);
    assertTrue(MountTable.read().at(ro).orElseThrow().readOnly());
    assertTrue(MountTable.read().at(rw).orElseThrow().mountOptions().containsAll(List.of("noexec", "nosuid")),
        MountTable.read().at(rw).orElseThrow().mountOptions().toString());
    Files.writeString(rw.resolve("f"), "x");
    assertEquals("x", Files.readString(ro.resolve("f")));
    FileSystemException e = assertThrows(FileSystemException.class, () -> Files.writeString(ro.resolve("g"), "y"));
    assertTrue(e.getMessage().contains("Read-only") || e instanceof AccessDeniedException, e.getMessage());
    assertEquals(GrpcStatus.ALREADY_EXISTS, d.fails(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(staging.toString()).setTargetPath(ro.toString()).setVolumeCapability(cap)
        .setReadonly(false).build()), "same target, different readonly");
    assertEquals(GrpcStatus.FAILED_PRECONDITION, d.fails(NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(staging.toString()).build()), "unstage while published");
    d.unpublish(id, rw);
    d.unpublish(id, ro);
    d.unstage(id, staging);
    d.delete(id);
  }

  @Test
  void nodeCallsValidateFieldsAndOrder() throws Exception {
    Volume v = d.create("order", null, MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("pod", "vol");
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(staging.toString()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId("missing").setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build()));
    var e = d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(mountCap()).build());
    assertEquals(GrpcStatus.FAILED_PRECONDITION, e.status(), "publish before stage");
    assertTrue(e.statusMessage().contains("NodeStageVolume"), e.statusMessage());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setTargetPath(target.toString()).setVolumeCapability(mountCap()).build()), "staging path is required when the driver stages");
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder()
        .setVolumeId("missing").setTargetPath(target.toString()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder()
        .setVolumeId(id).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder()
        .setVolumeId("missing").setStagingTargetPath(staging.toString()).build()));
    d.stage(id, staging, mountCap());
    assertEquals(GrpcStatus.ALREADY_EXISTS, d.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER, "noexec")).build()),
        "same staging path, different mount flags");
    assertEquals(GrpcStatus.FAILED_PRECONDITION, d.fails(ControllerGrpcClient.DeleteVolume,
        DeleteVolumeRequest.newBuilder().setVolumeId(id).build()), "delete while staged");
    d.unstage(id, staging);
    d.delete(id);
  }

  @Test
  void singleNodeSingleWriterAllowsOneTarget() throws Exception {
    var cap = mountCap(VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER);
    Volume v = d.create("sw", null, MIB, cap);
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    d.stage(id, staging, cap);
    d.publish(id, staging, d.target("p1", "v"), cap, false);
    assertEquals(GrpcStatus.FAILED_PRECONDITION, d.fails(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(d.target("p2", "v").toString()).setVolumeCapability(cap).build()));
    d.unpublish(id, d.target("p1", "v"));
    d.unstage(id, staging);
  }

  @Test
  void volumeStatsReportStatvfsFiguresAndCondition() throws Exception {
    Volume v = d.create("stats", "filesystem", 32 * MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("p", "v");
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), false);
    Files.write(target.resolve("blob"), new byte[4 * (int) MIB]);
    var r = d.call(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id).setVolumePath(target.toString()).build());
    VolumeUsage bytes = r.getUsageList().stream().filter(u -> u.getUnit() == VolumeUsage.Unit.BYTES).findFirst().orElseThrow();
    VolumeUsage inodes = r.getUsageList().stream().filter(u -> u.getUnit() == VolumeUsage.Unit.INODES).findFirst().orElseThrow();
    var fs = Files.getFileStore(target);
    assertEquals(fs.getTotalSpace(), bytes.getTotal());
    assertTrue(bytes.getTotal() > 20 * MIB && bytes.getTotal() <= 32 * MIB, "ext4 on a 32 MiB image: " + bytes.getTotal());
    assertTrue(bytes.getUsed() >= 4 * MIB, "used includes the 4 MiB written: " + bytes.getUsed());
    assertTrue(inodes.getTotal() > 0 && inodes.getUsed() > 0);
    assertFalse(r.getVolumeCondition().getAbnormal());
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
        .setVolumeId(id).setVolumePath(d.root.resolve("nowhere").toString()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
        .setVolumeId("missing").setVolumePath(target.toString()).build()));
    // A publish mount lost behind the driver's back is reported as an abnormal condition.
    new Mounter().unmount(target);
    var lost = d.call(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id).setVolumePath(target.toString()).build());
    assertTrue(lost.getVolumeCondition().getAbnormal(), lost.toString());
    d.publish(id, staging, target, mountCap(), false); // the CO's retry mounts it again
    assertTrue(mounted(target));
    d.unpublish(id, target);
    d.unstage(id, staging);
  }

  @Test
  void expansionIsSeenByStatvfs() throws Exception {
    Volume v = d.create("grow", "filesystem", 32 * MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("p", "v");
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), false);
    Files.writeString(target.resolve("keep.txt"), "still here");
    long before = Files.getFileStore(target).getTotalSpace();
    assertEquals(GrpcStatus.OUT_OF_RANGE, d.fails(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
        .setVolumePath(target.toString()).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(128 * MIB)).build()),
        "node expansion beyond the controller's size");
    d.call(ControllerGrpcClient.ControllerExpandVolume, ControllerExpandVolumeRequest.newBuilder().setVolumeId(id)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(128 * MIB)).build());
    var expand = NodeExpandVolumeRequest.newBuilder().setVolumeId(id)
        .setVolumePath(target.toString()).setStagingTargetPath(staging.toString())
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(128 * MIB)).build();
    if (Filesystems.canResizeOnline()) {
      assertEquals(128 * MIB, d.call(NodeGrpcClient.NodeExpandVolume, expand).getCapacityBytes());
    } else {
      // Without CAP_SYS_RESOURCE the kernel refuses online ext4 growth; the driver says so and grows it offline.
      var e = d.failure(NodeGrpcClient.NodeExpandVolume, expand);
      assertEquals(GrpcStatus.FAILED_PRECONDITION, e.status());
      assertTrue(e.statusMessage().contains("CAP_SYS_RESOURCE"), e.statusMessage());
      assertEquals(before, Files.getFileStore(target).getTotalSpace(), "a refused online resize changes nothing");
      d.unpublish(id, target);
      d.unstage(id, staging);
      d.stage(id, staging, mountCap());
      d.publish(id, staging, target, mountCap(), false);
    }
    long after = Files.getFileStore(target).getTotalSpace();
    assertTrue(after > before + 64 * MIB, "statvfs total grew from " + before + " to " + after);
    assertEquals("still here", Files.readString(target.resolve("keep.txt")));
    d.unpublish(id, target);
    d.unstage(id, staging);
  }

  @ParameterizedTest
  @ValueSource(strings = {"directory", "filesystem"})
  void snapshotContentIsRestorableAndClonesCopy(String kind) throws Exception {
    Volume v = d.create("src-" + kind, kind, 32 * MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("p", "v");
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), false);
    Files.writeString(target.resolve("before.txt"), "snapshot me");
    Snapshot s = d.call(ControllerGrpcClient.CreateSnapshot, CreateSnapshotRequest.newBuilder().setName("snap-" + kind).setSourceVolumeId(id).build()).getSnapshot();
    Files.writeString(target.resolve("after.txt"), "not in the snapshot");
    Volume restored = d.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("restored-" + kind)
        .addVolumeCapabilities(mountCap()).putParameters("kind", kind).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(48 * MIB))
        .setVolumeContentSource(VolumeContentSource.newBuilder().setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(s.getSnapshotId())))
        .build()).getVolume();
    assertEquals(s.getSnapshotId(), restored.getContentSource().getSnapshot().getSnapshotId());
    Volume clone = d.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("clone-" + kind)
        .addVolumeCapabilities(mountCap()).putParameters("kind", kind).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(32 * MIB))
        .setVolumeContentSource(VolumeContentSource.newBuilder().setVolume(VolumeContentSource.VolumeSource.newBuilder().setVolumeId(id)))
        .build()).getVolume();
    d.unpublish(id, target);
    d.unstage(id, staging);
    for (Volume copy : new Volume[] {restored, clone}) {
      Path st = d.staging(copy.getVolumeId());
      Path tg = d.target("p-" + copy.getVolumeId(), "v");
      d.stage(copy.getVolumeId(), st, mountCap());
      d.publish(copy.getVolumeId(), st, tg, mountCap(), false);
      assertEquals("snapshot me", Files.readString(tg.resolve("before.txt")));
      assertEquals(copy == clone, Files.exists(tg.resolve("after.txt")), "the snapshot predates after.txt; the clone does not");
      d.unpublish(copy.getVolumeId(), tg);
      d.unstage(copy.getVolumeId(), st);
    }
  }

  @Test
  void ephemeralInlineVolumesLiveFromPublishToUnpublish() throws Exception {
    String id = "csi-" + "a".repeat(64);
    Path target = d.target("pod-e", "inline");
    NodePublishVolumeRequest req = NodePublishVolumeRequest.newBuilder().setVolumeId(id).setTargetPath(target.toString())
        .setVolumeCapability(mountCap()).putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
        .putVolumeContext("csi.storage.k8s.io/pod.name", "pod-e").build();
    d.call(NodeGrpcClient.NodePublishVolume, req);
    d.call(NodeGrpcClient.NodePublishVolume, req);
    assertTrue(mounted(target));
    Files.writeString(target.resolve("scratch"), "tmp");
    assertTrue(Files.exists(d.root.resolve("state/volumes").resolve(id).resolve("scratch")));
    d.unpublish(id, target);
    assertFalse(mounted(target));
    assertFalse(Files.exists(d.root.resolve("state/volumes").resolve(id)), "an ephemeral volume is deleted on unpublish");
    assertEquals(0, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesCount());
  }

  private static NodePublishVolumeRequest ephemeral(String id, Path target) {
    return NodePublishVolumeRequest.newBuilder().setVolumeId(id).setTargetPath(target.toString())
        .setVolumeCapability(mountCap()).putVolumeContext(NodeServer.EPHEMERAL_KEY, "true").build();
  }

  private static long available(DriverFixture f) {
    return f.call(ControllerGrpcClient.GetCapacity, GetCapacityRequest.getDefaultInstance()).getAvailableCapacity();
  }

  /** Regression: inline volumes were made whatever --capacity said, and the remaining capacity went negative. */
  @Test
  void ephemeralVolumesAreRefusedWhenTheyDoNotFitAndCountedWhileTheyLive() throws Exception {
    long capacity = NodeServer.EPHEMERAL_BYTES * 3 / 2;
    try (DriverFixture small = new DriverFixture(false, 0, capacity)) {
      String a = "csi-" + "a".repeat(64);
      String b = "csi-" + "b".repeat(64);
      Path ta = small.target("pod-a", "inline");
      Path tb = small.target("pod-b", "inline");
      small.call(NodeGrpcClient.NodePublishVolume, ephemeral(a, ta));
      assertEquals(capacity - NodeServer.EPHEMERAL_BYTES, available(small), "a live inline volume is counted");
      var refused = small.failure(NodeGrpcClient.NodePublishVolume, ephemeral(b, tb));
      assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, refused.status(), refused.statusMessage());
      assertTrue(refused.statusMessage().contains(b) && refused.statusMessage().contains("--capacity"), refused.statusMessage());
      assertFalse(mounted(tb));
      assertFalse(Files.exists(small.root.resolve("state/volumes").resolve(b)), "a refused inline volume leaves no data");
      assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, small.fails(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder()
          .setName("too-big").addVolumeCapabilities(mountCap())
          .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(capacity - NodeServer.EPHEMERAL_BYTES + MIB)).build()),
          "CreateVolume sees the capacity inline volumes take");
      small.restart();
      assertEquals(capacity - NodeServer.EPHEMERAL_BYTES, available(small), "still counted after a restart");
      small.unpublish(a, ta);
      assertEquals(capacity, available(small), "freed when it goes");
      small.call(NodeGrpcClient.NodePublishVolume, ephemeral(b, tb));
      assertTrue(mounted(tb));
      small.unpublish(b, tb);
    }
  }

  /** Regression: an inline volume whose publish failed stayed, with its data and its share of the capacity. */
  @Test
  void anEphemeralPublishThatFailsLeavesNoVolume() throws Exception {
    String id = "csi-" + "f".repeat(64);
    Path target = d.target("pod-f", "inline");
    Files.createDirectories(target.getParent());
    Files.writeString(target, "not a directory"); // the bind mount cannot be made here
    long before = available(d);
    assertNotEquals(GrpcStatus.OK, d.fails(NodeGrpcClient.NodePublishVolume, ephemeral(id, target)));
    assertFalse(mounted(target));
    assertEquals("not a directory", Files.readString(target), "what the driver did not make is left alone");
    assertFalse(Files.exists(d.root.resolve("state/volumes").resolve(id)), "no data of the failed inline volume");
    assertEquals(0, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntriesCount());
    assertEquals(before, available(d));
    Files.delete(target);
    d.call(NodeGrpcClient.NodePublishVolume, ephemeral(id, target));
    assertTrue(mounted(target));
    d.unpublish(id, target);
  }

  /**
   * Regression (csi-sanity's order): an unknown volume, or a volume_path where the volume is neither staged nor
   * published, relative paths included, is NOT_FOUND; only an empty volume_id or volume_path is INVALID_ARGUMENT.
   */
  @Test
  void statsAndExpandAnswerNotFoundBeforeAnyCheckOfThePath() throws Exception {
    Volume v = d.create("precedence", null, MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("p", "v");
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), false);
    String unknown = "0b5e1f0c-0000-4000-8000-000000000000";
    VolumeCapability bad = VolumeCapability.getDefaultInstance();
    for (String[] idAndPath : new String[][] {
        {unknown, "some/path"}, {unknown, target.toString()}, {unknown, "/a/../b"},
        {id, "some/path"}, {id, "/a/../b"}, {id, d.root.resolve("nowhere").toString()}, {id, target + "/sub"}}) {
      String what = "volume " + idAndPath[0] + " at '" + idAndPath[1] + "'";
      var stats = d.failure(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
          .setVolumeId(idAndPath[0]).setVolumePath(idAndPath[1]).build());
      assertEquals(GrpcStatus.NOT_FOUND, stats.status(), "stats of " + what + ": " + stats.statusMessage());
      var expand = d.failure(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder()
          .setVolumeId(idAndPath[0]).setVolumePath(idAndPath[1]).setVolumeCapability(bad).build());
      assertEquals(GrpcStatus.NOT_FOUND, expand.status(), "expansion of " + what + ": " + expand.statusMessage());
    }
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
        .setVolumePath("some/path").build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
        .setVolumeId(unknown).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder()
        .setVolumePath(target.toString()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder()
        .setVolumeId(id).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder()
        .setVolumeId(id).setVolumePath(target.toString()).setVolumeCapability(bad).build()),
        "a bad capability of a volume published there is still the caller's error");
    // Where the volume is, the calls work, whichever of its paths is named and however it is spelled.
    for (String path : new String[] {target.toString(), staging.toString(), target + "/", staging.toString().replace("/", "//")}) {
      d.call(NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder().setVolumeId(id).setVolumePath(path).build());
      d.call(NodeGrpcClient.NodeExpandVolume, NodeExpandVolumeRequest.newBuilder().setVolumeId(id).setVolumePath(path).build());
    }
    d.unpublish(id, target);
    d.unstage(id, staging);
  }

  @Test
  void aRestartInTheMiddleOfAVolumesLifeKeepsDataAndMounts() throws Exception {
    Volume a = d.create("keep-dir", "directory", MIB, mountCap());
    Volume b = d.create("keep-fs", "filesystem", 32 * MIB, mountCap());
    Path ta = d.target("p", "a");
    Path tb = d.target("p", "b");
    d.stage(a.getVolumeId(), d.staging(a.getVolumeId()), mountCap());
    d.publish(a.getVolumeId(), d.staging(a.getVolumeId()), ta, mountCap(), false);
    d.stage(b.getVolumeId(), d.staging(b.getVolumeId()), mountCap());
    d.publish(b.getVolumeId(), d.staging(b.getVolumeId()), tb, mountCap(), false);
    Files.writeString(ta.resolve("a.txt"), "A");
    Files.writeString(tb.resolve("b.txt"), "B");

    d.restart();
    assertEquals(List.of(), d.driver.startupProblems(), "state matches the host after a restart");
    assertTrue(mounted(ta) && mounted(tb));
    assertEquals("A", Files.readString(ta.resolve("a.txt")));
    assertEquals("B", Files.readString(tb.resolve("b.txt")));
    // The new instance knows the volumes: repeated calls are idempotent, teardown works.
    d.publish(b.getVolumeId(), d.staging(b.getVolumeId()), tb, mountCap(), false);
    d.unpublish(a.getVolumeId(), ta);
    d.unstage(a.getVolumeId(), d.staging(a.getVolumeId()));
    d.unpublish(b.getVolumeId(), tb);

    // A mount lost while the driver was down is reported at start.
    new Mounter().unmount(d.staging(b.getVolumeId()));
    d.restart();
    assertEquals(1, d.driver.startupProblems().size(), d.driver.startupProblems().toString());
    assertTrue(d.driver.startupProblems().get(0).contains(b.getVolumeId()));
    d.stage(b.getVolumeId(), d.staging(b.getVolumeId()), mountCap()); // the CO's retry repairs it
    assertEquals("B", Files.readString(d.staging(b.getVolumeId()).resolve("b.txt")));
    d.unstage(b.getVolumeId(), d.staging(b.getVolumeId()));
  }

  @Test
  void everyCallIsIdempotentAcrossConcurrentDuplicates() throws Exception {
    Volume v = d.create("dup", null, MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    var futures = new ArrayList<Future<NodeStageVolumeResponse>>();
    for (int i = 0; i < 8; i++) {
      futures.add(d.client.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
          .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build(), Duration.ofSeconds(30)));
    }
    int ok = 0;
    for (var f : futures) {
      try {
        Await.result(f);
        ok++;
      } catch (GrpcCallException e) {
        assertEquals(GrpcStatus.ABORTED, e.status(), "a concurrent duplicate is either done or ABORTED: " + e.getMessage());
      }
    }
    assertTrue(ok >= 1);
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(staging.toString())).count(),
        "one stage, one mount");
    d.unstage(id, staging);
  }

  /** Regression: a driver killed between mount(2) and its state write must not stack a second mount on retry. */
  @Test
  void aMountLeftByAnInterruptedAttemptIsAdoptedNotStacked() throws Exception {
    Volume v = d.create("interrupted", null, MIB, mountCap());
    String id = v.getVolumeId();
    Path staging = d.staging(id);
    Path target = d.target("p", "v");
    // What an interrupted NodeStage and NodePublish leave: mounts, and no record of them.
    Files.createDirectories(staging);
    Files.createDirectories(target);
    new Mounter().bind(d.root.resolve("state/volumes").resolve(id), staging, false, List.of());
    new Mounter().bind(staging, target, false, List.of());
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), false);
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(staging.toString())).count());
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(target.toString())).count());
    d.unpublish(id, target);
    d.unstage(id, staging);
    assertFalse(mounted(target) || mounted(staging));
  }

  @Test
  void maxVolumesPerNodeIsReportedAndEnforced() throws Exception {
    try (DriverFixture small = new DriverFixture(false, 1, 1L << 30)) {
      assertEquals(1, small.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance()).getMaxVolumesPerNode());
      Volume a = small.create("a", null, MIB, mountCap());
      Volume b = small.create("b", null, MIB, mountCap());
      small.stage(a.getVolumeId(), small.staging(a.getVolumeId()), mountCap());
      assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, small.fails(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
          .setVolumeId(b.getVolumeId()).setStagingTargetPath(small.staging(b.getVolumeId()).toString()).setVolumeCapability(mountCap()).build()));
      small.unstage(a.getVolumeId(), small.staging(a.getVolumeId()));
    }
  }
}
