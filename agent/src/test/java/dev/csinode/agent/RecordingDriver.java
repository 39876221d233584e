package dev.csinode.agent;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.mount.Mounter;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Test double: a CSI node plugin that keeps every request it gets, so a test can look at the fields the agent
 * sent (secrets, volume context, volume_mount_group). It mounts for real (a bind mount of a directory per
 * volume at the staging path, and of the staging path at the target) so the agent sees what a driver does.
 * Advertises VOLUME_MOUNT_GROUP, and STAGE_UNSTAGE_VOLUME unless told not to (then publish binds the volume's
 * directory directly). Has a controller service only when made {@link #withoutControllerPublish}: like many
 * third-party drivers, it then answers ControllerGetCapabilities without PUBLISH_UNPUBLISH_VOLUME.
 */
final class RecordingDriver {
  final List<com.google.protobuf.Message> requests = new CopyOnWriteArrayList<>();
  final GrpcUnixServer server;
  private final Mounter mounter = new Mounter();

  RecordingDriver(Vertx vertx, Path socket, String name, Path dataDir) {
    this(vertx, socket, name, dataDir, true);
  }

  RecordingDriver(Vertx vertx, Path socket, String name, Path dataDir, boolean stageUnstage) {
    this(vertx, socket, name, dataDir, stageUnstage, false);
  }

  /** A driver with a controller service that offers CreateVolume but no ControllerPublishVolume. */
  static RecordingDriver withoutControllerPublish(Vertx vertx, Path socket, String name, Path dataDir) {
    return new RecordingDriver(vertx, socket, name, dataDir, true, true);
  }

  private RecordingDriver(Vertx vertx, Path socket, String name, Path dataDir, boolean stageUnstage, boolean controller) {
    IdentityService identity = TestIdentity.of(name);
    NodeService node = new NodeService() {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest r) {
        return Future.succeededFuture(NodeGetInfoResponse.newBuilder().setNodeId("recorder-node").build());
      }

      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest r) {
        return Future.succeededFuture(TestIdentity.nodeCapabilities(stageUnstage
            ? List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME, NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP)
            : List.of(NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP)));
      }

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest r) {
        requests.add(r);
        return vertx.executeBlocking(() -> {
          Path staging = Path.of(r.getStagingTargetPath());
          if (!mounter.isMountPoint(staging)) {
            mounter.bind(Files.createDirectories(dataDir.resolve(r.getVolumeId())), Files.createDirectories(staging), false, List.of());
          }
          return NodeStageVolumeResponse.getDefaultInstance();
        }, false);
      }

      @Override
      public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest r) {
        requests.add(r);
        return vertx.executeBlocking(() -> {
          mounter.unmountAll(Path.of(r.getStagingTargetPath()));
          return NodeUnstageVolumeResponse.getDefaultInstance();
        }, false);
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest r) {
        requests.add(r);
        return vertx.executeBlocking(() -> {
          Path target = Path.of(r.getTargetPath());
          if (!mounter.isMountPoint(target)) {
            Path source = stageUnstage ? Path.of(r.getStagingTargetPath()) : Files.createDirectories(dataDir.resolve(r.getVolumeId()));
            mounter.bind(source, Files.createDirectories(target), r.getReadonly(), List.of());
          }
          return NodePublishVolumeResponse.getDefaultInstance();
        }, false);
      }

      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest r) {
        requests.add(r);
        return vertx.executeBlocking(() -> {
          Path target = Path.of(r.getTargetPath());
          mounter.unmountAll(target);
          Files.deleteIfExists(target);
          return NodeUnpublishVolumeResponse.getDefaultInstance();
        }, false);
      }
    };
    ControllerService controllerService = new ControllerService() {
      @Override
      public Future<ControllerGetCapabilitiesResponse> controllerGetCapabilities(ControllerGetCapabilitiesRequest r) {
        requests.add(r);
        return Future.succeededFuture(ControllerGetCapabilitiesResponse.newBuilder().addCapabilities(ControllerServiceCapability.newBuilder()
            .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME))).build());
      }
    };
    this.server = dev.csinode.testing.Await.result(GrpcUnixServer.start(vertx, socket, controller
        ? List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node), ControllerGrpcService.of(controllerService))
        : List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node))));
  }

  <T extends com.google.protobuf.Message> List<T> requests(Class<T> type) {
    return requests.stream().filter(type::isInstance).map(type::cast).toList();
  }
}
