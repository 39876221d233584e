package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Test double, deliberately broken: NodeUnpublishVolume depends on the kubelet's {@code vol_data.json} beside the
 * target path (as drivers that read the kubelet's files for their own metadata do) and answers NOT_FOUND, undoing
 * nothing, when it is gone. The kubelet deletes that file itself in some error paths (k/k#101911): the volume can
 * then never be unpublished, and so never unstaged.
 */
public final class VolDataDependentDriver extends BrokenDriver {
  public VolDataDependentDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
        Path volData = Path.of(request.getTargetPath()).resolveSibling("vol_data.json");
        if (!Files.exists(volData, LinkOption.NOFOLLOW_LINKS)) {
          return Future.failedFuture(new StatusException(GrpcStatus.NOT_FOUND, "volume '" + request.getVolumeId()
              + "': no " + volData + " to read it from (deliberately dependent on the kubelet's file)"));
        }
        return delegate.nodeUnpublishVolume(request);
      }
    });
  }
}
