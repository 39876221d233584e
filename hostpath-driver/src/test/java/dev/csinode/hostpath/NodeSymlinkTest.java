package dev.csinode.hostpath;

import static dev.csinode.hostpath.DriverFixture.blockCap;
import static dev.csinode.hostpath.DriverFixture.mountCap;
import static dev.csinode.hostpath.DriverFixture.mounted;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.mount.MountTable;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A target or staging path that is a symbolic link is refused with INVALID_ARGUMENT naming it, and nothing is
 * mounted where the link points; the CO's directories above the path may be links (a kubelet root often is one).
 */
class NodeSymlinkTest {
  static final long MIB = 1 << 20;
  DriverFixture d;
  Path outside;

  @BeforeEach
  void start() throws Exception {
    d = new DriverFixture();
    outside = Files.createDirectories(d.root.resolve("outside"));
  }

  @AfterEach
  void stop() throws Exception {
    d.close();
  }

  private void assertRefused(GrpcCallException e, Path link) {
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status(), e.statusMessage());
    assertTrue(e.statusMessage().contains(link.toString()) && e.statusMessage().contains("symbolic link"), e.statusMessage());
    assertEquals(List.of(), MountTable.read().under(outside), "nothing mounted outside");
  }

  @Test
  void aStagingPathThatIsALinkIsRefused() throws Exception {
    String id = d.create("staged-link", null, MIB, mountCap()).getVolumeId();
    Path staging = d.staging(id);
    Files.createDirectories(staging.getParent());
    Files.createSymbolicLink(staging, outside);
    assertRefused(d.failure(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setVolumeCapability(mountCap()).build()), staging);
    assertRefused(d.failure(NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).build()), staging);
    d.delete(id);
  }

  @Test
  void aTargetPathThatIsALinkIsRefusedForMountBlockAndInlineVolumes() throws Exception {
    String id = d.create("target-link", null, MIB, mountCap()).getVolumeId();
    Path staging = d.staging(id);
    d.stage(id, staging, mountCap());
    Path target = d.target("pod", "vol");
    Files.createDirectories(target.getParent());
    Files.createSymbolicLink(target, outside);
    assertRefused(d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(mountCap()).build()), target);
    assertRefused(d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId("csi-inline")
        .putVolumeContext(NodeServer.EPHEMERAL_KEY, "true").setTargetPath(target.toString()).setVolumeCapability(mountCap()).build()), target);
    assertRefused(d.failure(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
        .setTargetPath(target.toString()).build()), target);
    assertTrue(Files.isSymbolicLink(target), "the link is left alone");

    // A file where the target directory belongs is no place for a mount either.
    Path file = d.target("pod-file", "vol");
    Files.createDirectories(file.getParent());
    Files.writeString(file, "a user's file");
    var e = d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(file.toString()).setVolumeCapability(mountCap()).build());
    assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status(), e.statusMessage());
    assertTrue(e.statusMessage().contains(file.toString()), e.statusMessage());
    assertFalse(mounted(file));
    d.unstage(id, staging);
    d.delete(id);

    String raw = d.create("raw-link", null, 16 * MIB, blockCap()).getVolumeId();
    Path blockStaging = Files.createDirectories(d.root.resolve("plugins/kubernetes.io/csi/volumeDevices/staging/raw"));
    d.stage(raw, blockStaging, blockCap());
    Path blockTarget = d.root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/raw/pod");
    Files.createDirectories(blockTarget.getParent());
    Path victim = Files.writeString(outside.resolve("victim"), "");
    Files.createSymbolicLink(blockTarget, victim);
    assertRefused(d.failure(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(raw)
        .setStagingTargetPath(blockStaging.toString()).setTargetPath(blockTarget.toString()).setVolumeCapability(blockCap()).build()),
        blockTarget);
    d.unstage(raw, blockStaging);
    d.delete(raw);
  }

  /** The directories above the path are the CO's: a root reached through a link works as before. */
  @Test
  void theCosDirectoriesAboveThePathMayBeLinks() throws Exception {
    String id = d.create("linked-root", null, MIB, mountCap()).getVolumeId();
    Path realRoot = Files.createDirectories(d.root.resolve("data-disk/kubelet"));
    Path linkedRoot = Files.createSymbolicLink(d.root.resolve("var-lib-kubelet"), realRoot);
    Path staging = linkedRoot.resolve("plugins/kubernetes.io/csi/hostpath.csinode.dev/abc/globalmount");
    Path target = linkedRoot.resolve("pods/pod/volumes/kubernetes.io~csi/vol/mount");
    Files.createDirectories(target.getParent());
    d.stage(id, staging, mountCap());
    d.publish(id, staging, target, mountCap(), true);
    assertTrue(mounted(realRoot.resolve("pods/pod/volumes/kubernetes.io~csi/vol/mount")));
    assertTrue(MountTable.read().at(realRoot.resolve("pods/pod/volumes/kubernetes.io~csi/vol/mount")).orElseThrow().readOnly());
    d.unpublish(id, target);
    d.unstage(id, staging);
    assertEquals(List.of(), MountTable.read().under(realRoot));
    d.delete(id);
  }
}
