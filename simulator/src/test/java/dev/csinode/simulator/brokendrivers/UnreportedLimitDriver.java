package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGetInfoResponse;
import io.vertx.core.Future;

/**
 * Test double, deliberately broken: holds to a limit of 2 volumes per node (a third NodeStageVolume answers
 * RESOURCE_EXHAUSTED) but NodeGetInfo reports max_volumes_per_node 0, no limit: the node sends the third stage and
 * the pod fails on it instead of waiting for a free slot. Breaks {@code volume-limits}' wait-reason and its count of
 * NodeStageVolume calls.
 */
public final class UnreportedLimitDriver extends RelayedHostpathDriver {
  static final long ENFORCED_LIMIT = 2;

  public UnreportedLimitDriver() {
    super(ENFORCED_LIMIT, false, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest request) {
        return delegate.nodeGetInfo(request).map(r -> r.toBuilder().setMaxVolumesPerNode(0).build());
      }
    }, RelayedController::new);
  }
}
