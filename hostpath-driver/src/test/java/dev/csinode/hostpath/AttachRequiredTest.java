package dev.csinode.hostpath;

import static dev.csinode.hostpath.DriverFixture.mountCap;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class AttachRequiredTest {
  DriverFixture d;

  @BeforeEach
  void start() throws Exception {
    d = new DriverFixture(true, 0, 1L << 30);
  }

  @AfterEach
  void stop() throws Exception {
    d.close();
  }

  @Test
  void advertisesPublishUnpublish() {
    var types = d.call(ControllerGrpcClient.ControllerGetCapabilities, ControllerGetCapabilitiesRequest.getDefaultInstance())
        .getCapabilitiesList().stream().map(c -> c.getRpc().getType()).toList();
    assertTrue(types.contains(ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME));
  }

  @Test
  void nodeStageNeedsControllerPublishAndItsContext() throws Exception {
    Volume v = d.create("att", null, 1 << 20, mountCap());
    String id = v.getVolumeId();
    var stage = NodeStageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(d.staging(id).toString()).setVolumeCapability(mountCap());
    var e = d.failure(NodeGrpcClient.NodeStageVolume, stage.build());
    assertEquals(GrpcStatus.FAILED_PRECONDITION, e.status());
    assertTrue(e.statusMessage().contains("ControllerPublishVolume"), e.statusMessage());

    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.ControllerPublishVolume, ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId(id).setNodeId("other-node").setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.NOT_FOUND, d.fails(ControllerGrpcClient.ControllerPublishVolume, ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId("missing").setNodeId(DriverFixture.NODE).setVolumeCapability(mountCap()).build()));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, d.fails(ControllerGrpcClient.ControllerPublishVolume, ControllerPublishVolumeRequest.newBuilder()
        .setVolumeId(id).setVolumeCapability(mountCap()).build()));
    var pub = ControllerPublishVolumeRequest.newBuilder().setVolumeId(id).setNodeId(DriverFixture.NODE).setVolumeCapability(mountCap()).build();
    var ctx = d.call(ControllerGrpcClient.ControllerPublishVolume, pub).getPublishContextMap();
    assertEquals(ctx, d.call(ControllerGrpcClient.ControllerPublishVolume, pub).getPublishContextMap(), "idempotent");
    assertEquals(GrpcStatus.ALREADY_EXISTS, d.fails(ControllerGrpcClient.ControllerPublishVolume, pub.toBuilder().setReadonly(true).build()));
    assertFalse(ctx.isEmpty());
    assertEquals(GrpcStatus.FAILED_PRECONDITION, d.fails(NodeGrpcClient.NodeStageVolume, stage.build()), "publish_context not passed");
    d.call(NodeGrpcClient.NodeStageVolume, stage.putAllPublishContext(ctx).build());
    var listed = d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntries(0);
    assertEquals(List.of(DriverFixture.NODE), listed.getStatus().getPublishedNodeIdsList());
    Path target = d.target("p", "v");
    d.call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id).putAllPublishContext(ctx)
        .setStagingTargetPath(d.staging(id).toString()).setTargetPath(target.toString()).setVolumeCapability(mountCap()).build());
    Files.writeString(target.resolve("x"), "y");
    d.unpublish(id, target);
    d.unstage(id, d.staging(id));
    var unpub = ControllerUnpublishVolumeRequest.newBuilder().setVolumeId(id).setNodeId(DriverFixture.NODE).build();
    d.call(ControllerGrpcClient.ControllerUnpublishVolume, unpub);
    d.call(ControllerGrpcClient.ControllerUnpublishVolume, unpub);
    assertEquals(0, d.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance()).getEntries(0).getStatus().getPublishedNodeIdsCount());
    d.delete(id);
  }

}
