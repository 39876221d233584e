package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeResponse;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.function.UnaryOperator;

/**
 * Test double, deliberately broken: DeleteVolume answers FAILED_PRECONDITION "in use" for every volume, also one the
 * node has unpublished and unstaged (as a driver whose node-side bookkeeping never forgets a stage). A generic
 * ephemeral volume then outlives its pod. Breaks {@code generic-ephemeral}'s wait-provisioned (deleted), its
 * DeleteVolume and order assertions, and the cleanup.
 */
public final class DeleteVolumeRefusedDriver extends RelayedHostpathDriver {
  public DeleteVolumeRefusedDriver() {
    super(0, false, UnaryOperator.identity(), relay -> new RelayedController(relay) {
      @Override
      public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest request) {
        return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "volume " + request.getVolumeId()
            + " is in use on a node (deliberately wrong)"));
      }
    });
  }
}
