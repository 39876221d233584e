package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test double, deliberately broken: a second NodeStageVolume of a staged volume, even with the same arguments, is
 * answered ALREADY_EXISTS (CSI demands OK). Breaks {@code idempotent-repeat}.
 */
public final class NonIdempotentStageDriver extends BrokenDriver {
  public NonIdempotentStageDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      private final Set<String> staged = ConcurrentHashMap.newKeySet();

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        if (staged.contains(request.getVolumeId())) {
          return Future.failedFuture(new StatusException(GrpcStatus.ALREADY_EXISTS, "volume " + request.getVolumeId()
              + " is already staged (deliberately not idempotent)"));
        }
        return delegate.nodeStageVolume(request).onSuccess(r -> staged.add(request.getVolumeId()));
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        return delegate.nodeUnstageVolume(request).onSuccess(r -> staged.remove(request.getVolumeId()));
      }
    });
  }
}
