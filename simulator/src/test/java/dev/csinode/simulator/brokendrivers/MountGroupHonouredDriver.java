package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * Test double, not broken: offers VOLUME_MOUNT_GROUP and applies volume_mount_group itself after a publish (every
 * entry of the target gets the group, group read and write, directories setgid), as a driver with that capability
 * must. Records the volume_mount_group of each NodeStageVolume and NodePublishVolume it gets. {@code fs-group}
 * passes against it: the scenario asks for the group, not for who sets it.
 */
public final class MountGroupHonouredDriver extends RelayedHostpathDriver {
  private final List<String> groupsSeen;

  public MountGroupHonouredDriver() {
    this(new CopyOnWriteArrayList<>());
  }

  private MountGroupHonouredDriver(List<String> seen) {
    super(0, false, node -> new DelegatingNode(node) {
      @Override
      public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest request) {
        return delegate.nodeGetCapabilities(request).map(r -> r.toBuilder().addCapabilities(NodeServiceCapability.newBuilder()
            .setRpc(NodeServiceCapability.RPC.newBuilder().setType(NodeServiceCapability.RPC.Type.VOLUME_MOUNT_GROUP))).build());
      }

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        seen.add("NodeStageVolume " + request.getVolumeCapability().getMount().getVolumeMountGroup());
        return delegate.nodeStageVolume(request);
      }

      @Override
      public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest request) {
        String group = request.getVolumeCapability().getMount().getVolumeMountGroup();
        seen.add("NodePublishVolume " + group);
        Vertx vertx = Vertx.currentContext().owner();
        return delegate.nodePublishVolume(request).compose(r -> group.isEmpty() ? Future.succeededFuture(r)
            : vertx.executeBlocking(() -> {
              applyGroup(Path.of(request.getTargetPath()), Integer.parseInt(group));
              return r;
            }, false));
      }
    }, RelayedController::new);
    this.groupsSeen = seen;
  }

  /** "METHOD GROUP" for each NodeStageVolume and NodePublishVolume, in the order they came. */
  public List<String> groupsSeen() {
    return List.copyOf(groupsSeen);
  }

  private static void applyGroup(Path target, int gid) throws IOException {
    try (Stream<Path> all = Files.walk(target)) { // does not follow links
      for (Path p : (Iterable<Path>) all::iterator) {
        Files.setAttribute(p, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
        if (!Files.isSymbolicLink(p)) {
          int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
          Files.setAttribute(p, "unix:mode", (mode & 07777) | 0060 | (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? 02010 : 0),
              LinkOption.NOFOLLOW_LINKS);
        }
      }
    }
  }
}
