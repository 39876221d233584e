package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.ControllerGetCapabilitiesRequest;
import dev.csinode.csi.v1.ControllerGetCapabilitiesResponse;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.ControllerGrpcService;
import dev.csinode.csi.v1.ControllerPublishVolumeRequest;
import dev.csinode.csi.v1.ControllerPublishVolumeResponse;
import dev.csinode.csi.v1.ControllerService;
import dev.csinode.csi.v1.ControllerUnpublishVolumeRequest;
import dev.csinode.csi.v1.ControllerUnpublishVolumeResponse;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.CreateVolumeResponse;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeResponse;
import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginCapabilitiesResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.IdentityGrpcService;
import dev.csinode.csi.v1.IdentityService;
import dev.csinode.csi.v1.ListVolumesRequest;
import dev.csinode.csi.v1.ListVolumesResponse;
import dev.csinode.csi.v1.NodeExpandVolumeRequest;
import dev.csinode.csi.v1.NodeExpandVolumeResponse;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGetInfoResponse;
import dev.csinode.csi.v1.NodeGetVolumeStatsRequest;
import dev.csinode.csi.v1.NodeGetVolumeStatsResponse;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeGrpcService;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeService;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.plugins.registrar.BundledDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * Test double base for real mounts: the bundled hostpath driver on a socket of its own beside the endpoint, and on
 * the endpoint its Identity and Controller services forwarded unchanged and its Node service forwarded through a
 * wrapper that misbehaves in one named way. A {@link BundledDriver}, so the scenario engine runs it as any driver.
 */
abstract class BrokenHostpathDriver implements BundledDriver {
  private static final Duration CALL_TIMEOUT = Duration.ofMinutes(2);
  private final UnaryOperator<NodeService> breakage;

  BrokenHostpathDriver(UnaryOperator<NodeService> breakage) {
    this.breakage = breakage;
  }

  @Override
  public String name() {
    return BundledHostpathDriver.INSTANCE.name();
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    UnixEndpoint inner = new UnixEndpoint(endpoint.path().resolveSibling("hostpath.sock"));
    return BundledHostpathDriver.INSTANCE.start(vertx, inner, nodeName, stateDir).compose(hostpath -> {
      Forward to = new Forward(new GrpcUnixClient(vertx, inner));
      return GrpcUnixServer.start(vertx, endpoint.path(), List.of(IdentityGrpcService.of(to.identity()),
              ControllerGrpcService.of(to.controller()), NodeGrpcService.of(breakage.apply(to.node()))))
          .map(server -> (Running) () -> server.close().eventually(() -> {
            to.client.close();
            return hostpath.stop();
          }))
          .recover(err -> hostpath.stop().transform(ar -> Future.failedFuture(err)));
    });
  }

  /** Each call forwarded to the hostpath driver; its gRPC status passed back as it is. */
  private record Forward(GrpcUnixClient client) {
    <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request) {
      return client.call(method, request, CALL_TIMEOUT).recover(err -> Future.failedFuture(err instanceof GrpcCallException g
          ? new StatusException(g.status(), g.statusMessage()) : err));
    }

    IdentityService identity() {
      return new IdentityService() {
        @Override
        public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
          return call(IdentityGrpcClient.GetPluginInfo, request);
        }

        @Override
        public Future<GetPluginCapabilitiesResponse> getPluginCapabilities(GetPluginCapabilitiesRequest request) {
          return call(IdentityGrpcClient.GetPluginCapabilities, request);
        }

        @Override
        public Future<ProbeResponse> probe(ProbeRequest request) {
          return call(IdentityGrpcClient.Probe, request);
        }
      };
    }

    ControllerService controller() {
      return new ControllerService() {
        @Override
        public Future<CreateVolumeResponse> createVolume(CreateVolumeRequest request) {
          return call(ControllerGrpcClient.CreateVolume, request);
        }

        @Override
        public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest request) {
          return call(ControllerGrpcClient.DeleteVolume, request);
        }

        @Override
        public Future<ControllerGetCapabilitiesResponse> controllerGetCapabilities(ControllerGetCapabilitiesRequest request) {
          return call(ControllerGrpcClient.ControllerGetCapabilities, request);
        }

        @Override
        public Future<ControllerPublishVolumeResponse> controllerPublishVolume(ControllerPublishVolumeRequest request) {
          return call(ControllerGrpcClient.ControllerPublishVolume, request);
        }

        @Override
        public Future<ControllerUnpublishVolumeResponse> controllerUnpublishVolume(ControllerUnpublishVolumeRequest request) {
          return call(ControllerGrpcClient.ControllerUnpublishVolume, request);
        }

        @Override
        public Future<ListVolumesResponse> listVolumes(ListVolumesRequest request) {
          return call(ControllerGrpcClient.ListVolumes, request);
        }
      };
    }

    NodeService node() {
      return new NodeService() {
        @Override
        public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
          return call(NodeGrpcClient.NodeStageVolume, request);
        }

        @Override
        public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
          return call(NodeGrpcClient.NodeUnstageVolume, request);
        }

        @Override
        public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
          return call(NodeGrpcClient.NodePublishVolume, request);
        }

        @Override
        public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
          return call(NodeGrpcClient.NodeUnpublishVolume, request);
        }

        @Override
        public Future<NodeGetVolumeStatsResponse> nodeGetVolumeStats(NodeGetVolumeStatsRequest request) {
          return call(NodeGrpcClient.NodeGetVolumeStats, request);
        }

        @Override
        public Future<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest request) {
          return call(NodeGrpcClient.NodeExpandVolume, request);
        }

        @Override
        public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest request) {
          return call(NodeGrpcClient.NodeGetCapabilities, request);
        }

        @Override
        public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest request) {
          return call(NodeGrpcClient.NodeGetInfo, request);
        }
      };
    }
  }
}
