package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.core.Promise;

/**
 * Test double, deliberately broken: NodeStageVolume does its work (the volume ends up staged and mounted) and never
 * answers; the caller's deadline is all that ends the call. What it leaves behind breaks
 * {@code nothing-left-unwanted} unless the node tears the uncertain stage down; a node that does not wait for the
 * hung call before the next operation on the volume breaks {@code one-operation-per-volume}.
 */
public final class HangingDriver extends BrokenDriver {
  public HangingDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        Promise<NodeStageVolumeResponse> never = Promise.promise();
        delegate.nodeStageVolume(request);
        return never.future();
      }
    });
  }
}
