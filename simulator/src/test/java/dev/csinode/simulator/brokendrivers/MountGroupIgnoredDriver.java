package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.VolumeCapability;
import io.vertx.core.Future;

/**
 * Test double, deliberately broken: offers VOLUME_MOUNT_GROUP (so the node leaves the fsGroup to it and passes it as
 * volume_mount_group) and then ignores volume_mount_group in NodeStageVolume and NodePublishVolume: the pod's
 * files keep their group. Breaks {@code fs-group}'s assert-volume.
 */
public final class MountGroupIgnoredDriver extends RelayedHostpathDriver {
  public MountGroupIgnoredDriver() {
    super(0, false, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest request) {
        return delegate.nodeGetCapabilities(request).map(r -> r.toBuilder().addCapabilities(NodeServiceCapability.newBuilder()
            .setRpc(NodeServiceCapability.RPC.newBuilder().setType(NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP))).build());
      }

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        return delegate.nodeStageVolume(request.toBuilder().setVolumeCapability(withoutGroup(request.getVolumeCapability())).build());
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        return delegate.nodePublishVolume(request.toBuilder().setVolumeCapability(withoutGroup(request.getVolumeCapability())).build());
      }
    }, RelayedController::new);
  }

  private static VolumeCapability withoutGroup(VolumeCapability cap) {
    return cap.hasMount() ? cap.toBuilder().setMount(cap.getMount().toBuilder().clearVolumeMountGroup()).build() : cap;
  }
}
