package dev.csinode.agent;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixServer;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Test double: a CSI node plugin whose NodeStageVolume never answers; records every other call it gets. */
final class HangingStageDriver {
  final List<String> calls = new CopyOnWriteArrayList<>();
  final GrpcUnixServer server;

  HangingStageDriver(Vertx vertx, Path socket, String name) {
    IdentityService identity = TestIdentity.of(name);
    NodeService node = new NodeService() {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest r) {
        return Future.succeededFuture(NodeGetInfoResponse.newBuilder().setNodeId("n").build());
      }

      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest r) {
        return Future.succeededFuture(TestIdentity.nodeCapabilities(List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME)));
      }

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest r) {
        calls.add("NodeStageVolume " + r.getVolumeId());
        return Promise.<NodeStageVolumeResponse>promise().future(); // never answers
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest r) {
        calls.add("NodeUnstageVolume " + r.getVolumeId() + " " + r.getStagingTargetPath());
        return Future.succeededFuture(NodeUnstageVolumeResponse.getDefaultInstance());
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest r) {
        calls.add("NodePublishVolume " + r.getVolumeId());
        return Future.succeededFuture(NodePublishVolumeResponse.getDefaultInstance());
      }
    };
    this.server = dev.csinode.testing.Await.result(GrpcUnixServer.start(vertx, socket,
        List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node))));
  }
}
