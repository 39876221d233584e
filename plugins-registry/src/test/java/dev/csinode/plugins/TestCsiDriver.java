package dev.csinode.plugins;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.util.List;

/** Test double: a CSI driver answering Identity and the node-info calls, with a Probe that can be made to fail. */
final class TestCsiDriver implements AutoCloseable {
  final String name;
  final GrpcUnixServer server;
  volatile boolean probeFails;

  TestCsiDriver(Vertx vertx, Path socket, String name, String nodeId) {
    this.name = name;
    TestCsiDriver self = this;
    IdentityService identity = new IdentityService() {
      @Override
      public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest r) {
        return Future.succeededFuture(GetPluginInfoResponse.newBuilder().setName(name).setVendorVersion("test").build());
      }

      @Override
      public Future<ProbeResponse> probe(ProbeRequest r) {
        return self.probeFails ? Future.failedFuture(new StatusException(GrpcStatus.UNAVAILABLE, "backend down"))
            : Future.succeededFuture(ProbeResponse.getDefaultInstance());
      }
    };
    NodeService node = new NodeService() {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest r) {
        return Future.succeededFuture(NodeGetInfoResponse.newBuilder().setNodeId(nodeId).setMaxVolumesPerNode(16)
            .setAccessibleTopology(Topology.newBuilder().putSegments("zone", "z1")).build());
      }

      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest r) {
        return Future.succeededFuture(NodeGetCapabilitiesResponse.newBuilder().addCapabilities(NodeServiceCapability.newBuilder()
            .setRpc(NodeServiceCapability.RPC.newBuilder().setType(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME))).build());
      }
    };
    this.server = Await.result(GrpcUnixServer.start(vertx, socket, List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node))));
  }

  String endpoint() {
    return server.path().toString();
  }

  @Override
  public void close() {
    Await.result(server.close());
  }
}
