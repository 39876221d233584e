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
import dev.csinode.csi.v1.GetCapacityRequest;
import dev.csinode.csi.v1.GetCapacityResponse;
import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginCapabilitiesResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.IdentityGrpcService;
import dev.csinode.csi.v1.IdentityService;
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
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import dev.csinode.plugins.registrar.BundledDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.server.StatusException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Test double base for the scenarios that judge what a pod sees in its volume (read-only, the files' group) or need
 * ControllerPublishVolume, which the in-memory driver cannot show: the bundled hostpath driver (real mounts, loop
 * devices) on a socket of its own, and in front of it on the driver's socket a relay that forwards each call the
 * node makes, with its Node and Controller services wrapped to misbehave in one named way. Unwrapped it is the
 * hostpath driver, call for call (the control case).
 */
class RelayedHostpathDriver implements BundledDriver {
  private static final long CAPACITY_BYTES = 1L << 30;
  /** The node's own deadline decides; this only keeps a relayed call from outliving it for long. */
  private static final Duration RELAY_DEADLINE = Duration.ofMinutes(2);
  private final long maxVolumesPerNode;
  private final boolean attachRequired;
  private final UnaryOperator<NodeService> nodeBreakage;
  private final Function<Relay, ControllerService> controller;

  /**
   * @param nodeBreakage wraps the relayed Node service (a {@link DelegatingNode} overriding what it breaks)
   * @param controller   the Controller service over the relay: a {@link RelayedController}, or one that overrides it
   */
  RelayedHostpathDriver(long maxVolumesPerNode, boolean attachRequired, UnaryOperator<NodeService> nodeBreakage,
                        Function<Relay, ControllerService> controller) {
    this.maxVolumesPerNode = maxVolumesPerNode;
    this.attachRequired = attachRequired;
    this.nodeBreakage = nodeBreakage;
    this.controller = controller;
  }

  /** The hostpath driver with these settings behind the relay, nothing broken. */
  static RelayedHostpathDriver unbroken(long maxVolumesPerNode, boolean attachRequired) {
    return new RelayedHostpathDriver(maxVolumesPerNode, attachRequired, UnaryOperator.identity(), RelayedController::new);
  }

  @Override
  public String name() {
    return HostpathConfig.DEFAULT_DRIVER_NAME;
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    UnixEndpoint inner = new UnixEndpoint(stateDir.resolveSibling("inner.sock"));
    HostpathConfig config = new HostpathConfig(inner, nodeName, stateDir, name(), maxVolumesPerNode, CAPACITY_BYTES, attachRequired);
    return HostpathDriver.start(vertx, config).compose(driver -> {
      Relay relay = new Relay(new GrpcUnixClient(vertx, inner));
      return GrpcUnixServer.start(vertx, endpoint.path(), List.of(IdentityGrpcService.of(new RelayedIdentity(relay)),
              ControllerGrpcService.of(controller.apply(relay)), NodeGrpcService.of(nodeBreakage.apply(new RelayedNode(relay)))))
          .<Running>map(server -> () -> server.close().eventually(() -> {
            relay.client.close();
            return driver.stop();
          }))
          .recover(err -> driver.stop().transform(x -> Future.failedFuture(err)));
    });
  }

  /** Calls the hostpath driver; its failures reach the node with the same status and message. */
  static final class Relay {
    private final GrpcUnixClient client;

    Relay(GrpcUnixClient client) {
      this.client = client;
    }

    <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request) {
      return client.call(method, request, RELAY_DEADLINE).recover(err -> Future.failedFuture(err instanceof GrpcCallException g
          ? new StatusException(g.status(), g.statusMessage()) : err));
    }
  }

  private static final class RelayedIdentity extends IdentityService {
    private final Relay relay;

    RelayedIdentity(Relay relay) {
      this.relay = relay;
    }

    @Override
    public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
      return relay.call(IdentityGrpcClient.GetPluginInfo, request);
    }

    @Override
    public Future<GetPluginCapabilitiesResponse> getPluginCapabilities(GetPluginCapabilitiesRequest request) {
      return relay.call(IdentityGrpcClient.GetPluginCapabilities, request);
    }

    @Override
    public Future<ProbeResponse> probe(ProbeRequest request) {
      return relay.call(IdentityGrpcClient.Probe, request);
    }
  }

  /** The Controller methods the node calls, relayed; a broken driver overrides what it breaks. */
  static class RelayedController extends ControllerService {
    final Relay relay;

    RelayedController(Relay relay) {
      this.relay = relay;
    }

    @Override
    public Future<CreateVolumeResponse> createVolume(CreateVolumeRequest request) {
      return relay.call(ControllerGrpcClient.CreateVolume, request);
    }

    @Override
    public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest request) {
      return relay.call(ControllerGrpcClient.DeleteVolume, request);
    }

    @Override
    public Future<ControllerPublishVolumeResponse> controllerPublishVolume(ControllerPublishVolumeRequest request) {
      return relay.call(ControllerGrpcClient.ControllerPublishVolume, request);
    }

    @Override
    public Future<ControllerUnpublishVolumeResponse> controllerUnpublishVolume(ControllerUnpublishVolumeRequest request) {
      return relay.call(ControllerGrpcClient.ControllerUnpublishVolume, request);
    }

    @Override
    public Future<GetCapacityResponse> getCapacity(GetCapacityRequest request) {
      return relay.call(ControllerGrpcClient.GetCapacity, request);
    }

    @Override
    public Future<ControllerGetCapabilitiesResponse> controllerGetCapabilities(ControllerGetCapabilitiesRequest request) {
      return relay.call(ControllerGrpcClient.ControllerGetCapabilities, request);
    }
  }

  private static final class RelayedNode extends NodeService {
    private final Relay relay;

    RelayedNode(Relay relay) {
      this.relay = relay;
    }

    @Override
    public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
      return relay.call(NodeGrpcClient.NodeStageVolume, request);
    }

    @Override
    public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest request) {
      return relay.call(NodeGrpcClient.NodeUnstageVolume, request);
    }

    @Override
    public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
      return relay.call(NodeGrpcClient.NodePublishVolume, request);
    }

    @Override
    public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
      return relay.call(NodeGrpcClient.NodeUnpublishVolume, request);
    }

    @Override
    public Future<NodeGetVolumeStatsResponse> nodeGetVolumeStats(NodeGetVolumeStatsRequest request) {
      return relay.call(NodeGrpcClient.NodeGetVolumeStats, request);
    }

    @Override
    public Future<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest request) {
      return relay.call(NodeGrpcClient.NodeExpandVolume, request);
    }

    @Override
    public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest request) {
      return relay.call(NodeGrpcClient.NodeGetCapabilities, request);
    }

    @Override
    public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest request) {
      return relay.call(NodeGrpcClient.NodeGetInfo, request);
    }
  }
}
