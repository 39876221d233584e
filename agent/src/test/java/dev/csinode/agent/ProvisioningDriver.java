package dev.csinode.agent;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixServer;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Test double: a CSI driver with a Controller service whose CreateVolume succeeds or fails as the test says
 * (e.g. RESOURCE_EXHAUSTED, as a driver out of capacity answers), recording when each call came. Node service:
 * only what registration asks. Mounts nothing.
 */
public final class ProvisioningDriver {
  /** Monotonic times (ns) of the CreateVolume calls. */
  public final List<Long> creates = new CopyOnWriteArrayList<>();
  public final List<String> deletes = new CopyOnWriteArrayList<>();
  /** Null: CreateVolume succeeds; else it fails with this status and {@link #failMessage}. */
  public volatile GrpcStatus failCreates;
  public volatile String failMessage = "no capacity left";
  public final GrpcUnixServer server;

  public ProvisioningDriver(Vertx vertx, Path socket, String name) {
    IdentityService identity = TestIdentity.of(name);
    NodeService node = new NodeService() {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest r) {
        return Future.succeededFuture(NodeGetInfoResponse.newBuilder().setNodeId("provisioning-node").build());
      }

      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest r) {
        return Future.succeededFuture(TestIdentity.nodeCapabilities(List.of()));
      }
    };
    ControllerService controller = new ControllerService() {
      @Override
      public Future<CreateVolumeResponse> createVolume(CreateVolumeRequest r) {
        creates.add(System.nanoTime());
        GrpcStatus fail = failCreates;
        if (fail != null) {
          return Future.failedFuture(new StatusException(fail, failMessage));
        }
        return Future.succeededFuture(CreateVolumeResponse.newBuilder().setVolume(dev.csinode.csi.v1.Volume.newBuilder()
            .setVolumeId("vol-" + r.getName()).setCapacityBytes(r.getCapacityRange().getRequiredBytes())).build());
      }

      @Override
      public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest r) {
        deletes.add(r.getVolumeId());
        return Future.succeededFuture(DeleteVolumeResponse.getDefaultInstance());
      }
    };
    this.server = dev.csinode.testing.Await.result(GrpcUnixServer.start(vertx, socket,
        List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node), ControllerGrpcService.of(controller))));
  }
}
