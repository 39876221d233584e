package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test double, deliberately broken: NodePublishVolume makes the target directory and answers OK, mounting nothing
 * there (a pod would write to the node's disk). Breaks {@code publish-mounts}.
 */
public final class PublishWithoutMountDriver extends BrokenDriver {
  public PublishWithoutMountDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        try {
          Files.createDirectories(Path.of(request.getTargetPath()));
        } catch (IOException e) {
          return Future.failedFuture(e);
        }
        return Future.succeededFuture(NodePublishVolumeResponse.getDefaultInstance());
      }
    });
  }
}
