package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;

/**
 * Test double, deliberately broken: NodeUnpublishVolume and NodeUnstageVolume answer NOT_FOUND for volumes it has,
 * staged and published, and undo nothing. The volume stays mounted: breaks {@code nothing-left-unwanted}, and
 * {@code no-unstage-while-published} under a node that takes NOT_FOUND for "already gone".
 */
public final class NotFoundDriver extends BrokenDriver {
  public NotFoundDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
        return Future.failedFuture(new StatusException(GrpcStatus.NOT_FOUND, "volume '" + request.getVolumeId()
            + "' does not exist (deliberately wrong)"));
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        return Future.failedFuture(new StatusException(GrpcStatus.NOT_FOUND, "volume '" + request.getVolumeId()
            + "' does not exist (deliberately wrong)"));
      }
    });
  }
}
