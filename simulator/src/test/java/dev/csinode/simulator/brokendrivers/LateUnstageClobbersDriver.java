package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test double, deliberately broken (k/k#102486 from the driver's side): no per-volume lock and no check that the
 * volume is still published: NodeUnstageVolume unmounts the staging path and forgets the stage whenever it arrives,
 * so a late one takes the volume from a stage made after it. Until NodeStageVolume comes again, NodePublishVolume
 * of the volume answers FAILED_PRECONDITION (not staged): the next pod never gets ready in
 * {@code stage-during-unstage}.
 */
public final class LateUnstageClobbersDriver extends BrokenDriver {
  public LateUnstageClobbersDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    super(options, mounts, node -> new DelegatingNode(node) {
      private final Set<String> forgotten = ConcurrentHashMap.newKeySet();
      /** Published targets ("volume target"): only an unstage under a publish is the broken one. */
      private final Set<String> published = ConcurrentHashMap.newKeySet();

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        return delegate.nodeStageVolume(request).onSuccess(r -> forgotten.remove(request.getVolumeId()));
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        String id = request.getVolumeId();
        if (published.stream().noneMatch(p -> p.startsWith(id + " "))) {
          return delegate.nodeUnstageVolume(request);
        }
        Path staging = Path.of(request.getStagingTargetPath());
        while (mounts.unmount(staging)) {
          // every layer
        }
        forgotten.add(id);
        return Future.succeededFuture(NodeUnstageVolumeResponse.getDefaultInstance());
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        if (forgotten.contains(request.getVolumeId())) {
          return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "volume " + request.getVolumeId()
              + " is not staged at " + request.getStagingTargetPath() + "; call NodeStageVolume first"));
        }
        return delegate.nodePublishVolume(request).onSuccess(r -> published.add(request.getVolumeId() + " " + request.getTargetPath()));
      }

      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
        return delegate.nodeUnpublishVolume(request).onSuccess(r -> published.remove(request.getVolumeId() + " " + request.getTargetPath()));
      }
    });
  }
}
