package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import io.vertx.core.Future;

/**
 * Test double, deliberately broken: NodePublishVolume ignores {@code readonly} and publishes every target
 * read-write, so a pod that mounts its claim read-only can write to it. Breaks {@code read-only}'s assert-volume.
 */
public final class ReadOnlyIgnoredDriver extends RelayedHostpathDriver {
  public ReadOnlyIgnoredDriver() {
    super(0, false, node -> new DelegatingNode(node) {
      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        return delegate.nodePublishVolume(request.toBuilder().setReadonly(false).build());
      }
    }, RelayedController::new);
  }
}
