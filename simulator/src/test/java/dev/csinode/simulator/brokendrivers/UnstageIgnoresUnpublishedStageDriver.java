package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test double, deliberately broken (k/k#82190 from the driver's side): NodeUnstageVolume of a volume it staged but
 * never published answers OK and unmounts nothing, as if a stage whose answer the node never got had not happened.
 * The staging mount outlives the pod: breaks {@code nothing-left-unwanted} and the cleanup check of
 * {@code stage-timeout-pod-deleted}.
 */
public final class UnstageIgnoresUnpublishedStageDriver extends BrokenDriver {
  public UnstageIgnoresUnpublishedStageDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      private final Set<String> published = ConcurrentHashMap.newKeySet();

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        return delegate.nodePublishVolume(request).onSuccess(r -> published.add(request.getVolumeId()));
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        if (!published.contains(request.getVolumeId())) {
          return Future.succeededFuture(NodeUnstageVolumeResponse.getDefaultInstance());
        }
        return delegate.nodeUnstageVolume(request);
      }
    });
  }
}
