package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeExpandVolumeRequest;
import dev.csinode.csi.v1.NodeExpandVolumeResponse;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGetInfoResponse;
import dev.csinode.csi.v1.NodeGetVolumeStatsRequest;
import dev.csinode.csi.v1.NodeGetVolumeStatsResponse;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeService;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import io.vertx.core.Future;

/** The in-memory driver's Node service, call for call; a broken driver overrides what it breaks. */
class DelegatingNode extends NodeService {
  final NodeService delegate;

  DelegatingNode(NodeService delegate) {
    this.delegate = delegate;
  }

  @Override
  public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
    return delegate.nodeStageVolume(request);
  }

  @Override
  public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
    return delegate.nodeUnstageVolume(request);
  }

  @Override
  public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
    return delegate.nodePublishVolume(request);
  }

  @Override
  public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
    return delegate.nodeUnpublishVolume(request);
  }

  @Override
  public Future<NodeGetVolumeStatsResponse> nodeGetVolumeStats(NodeGetVolumeStatsRequest request) {
    return delegate.nodeGetVolumeStats(request);
  }

  @Override
  public Future<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest request) {
    return delegate.nodeExpandVolume(request);
  }

  @Override
  public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest request) {
    return delegate.nodeGetCapabilities(request);
  }

  @Override
  public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest request) {
    return delegate.nodeGetInfo(request);
  }
}
