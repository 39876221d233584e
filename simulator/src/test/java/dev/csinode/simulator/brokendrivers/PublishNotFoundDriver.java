package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;

/**
 * Test double, deliberately broken (k/k#135736): NodePublishVolume answers NOT_FOUND for a volume it created and
 * staged, every time. The pod never gets ready: breaks the last {@code wait-ready} of {@code publish-not-found}.
 */
public final class PublishNotFoundDriver extends BrokenDriver {
  public PublishNotFoundDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        return Future.failedFuture(new StatusException(GrpcStatus.NOT_FOUND, "volume '" + request.getVolumeId()
            + "' does not exist (deliberately wrong)"));
      }
    });
  }
}
