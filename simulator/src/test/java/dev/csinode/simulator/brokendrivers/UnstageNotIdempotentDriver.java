package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;

/**
 * Test double, deliberately broken (k/k#106729 from the driver's side): NodeUnstageVolume unmounts the staging path
 * and then fails INTERNAL, keeping its record of the stage; asked again with nothing mounted there, it fails INTERNAL
 * once more ("not mounted") instead of answering OK. NodeStageVolume is the in-memory driver's (it mounts a recorded
 * stage again), so a new pod still gets the volume; the volume is never unstaged with an OK answer: breaks
 * {@code wait-gone}, {@code nothing-left-unwanted} and the cleanup of {@code unstage-fails-new-pod}.
 */
public final class UnstageNotIdempotentDriver extends BrokenDriver {
  public UnstageNotIdempotentDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        Path staging = Path.of(request.getStagingTargetPath());
        if (mounts.isMountPoint(staging)) {
          while (mounts.unmount(staging)) {
            // every layer, as the in-memory driver unmounts
          }
          return Future.failedFuture(new StatusException(GrpcStatus.INTERNAL, "unstaging volume " + request.getVolumeId()
              + " failed after unmounting " + staging + " (deliberately: the record is kept)"));
        }
        return Future.failedFuture(new StatusException(GrpcStatus.INTERNAL, staging + " is not mounted"
            + " (deliberately not idempotent)"));
      }
    });
  }
}
