package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Test double, deliberately broken: forgets on restart what it staged and published before (state kept in memory
 * only), and answers NOT_FOUND to NodeUnpublishVolume and NodeUnstageVolume of those volumes, undoing nothing. What
 * a node reconstructs after a restart (k/k#72500) so can never be torn down: the volume stays mounted.
 */
public final class ForgetfulDriver extends BrokenDriver {
  /** The volumes staged or published since the driver last started: all it remembers. */
  private final Set<String> known;

  public ForgetfulDriver(InMemoryDriver.Options options, SimulatedMounts mounts) {
    this(options, mounts, ConcurrentHashMap.newKeySet());
  }

  private ForgetfulDriver(InMemoryDriver.Options options, SimulatedMounts mounts, Set<String> known) {
    super(options, mounts, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        return delegate.nodeStageVolume(request).onSuccess(r -> known.add(request.getVolumeId()));
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        return delegate.nodePublishVolume(request).onSuccess(r -> known.add(request.getVolumeId()));
      }

      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
        return known.contains(request.getVolumeId()) ? delegate.nodeUnpublishVolume(request) : notFound(request.getVolumeId());
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
        return known.contains(request.getVolumeId()) ? delegate.nodeUnstageVolume(request) : notFound(request.getVolumeId());
      }
    });
    this.known = known;
  }

  private static <T> Future<T> notFound(String volume) {
    return Future.failedFuture(new StatusException(GrpcStatus.NOT_FOUND, "volume '" + volume
        + "' is not known since the driver restarted (deliberately forgetful)"));
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    known.clear();
    return super.start(vertx, endpoint, nodeName, stateDir);
  }
}
