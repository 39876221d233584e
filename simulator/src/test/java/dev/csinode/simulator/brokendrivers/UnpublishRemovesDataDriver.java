package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Test double, deliberately broken, on the hostpath driver with real mounts: NodeUnpublishVolume first deletes the
 * regular files at the top of the target (the volume's data, through the mount), then unpublishes. What clean-ups
 * that removed a still-mounted pod directory did to volume data (k/k#60987): breaks {@code no-data-lost}.
 */
public final class UnpublishRemovesDataDriver extends BrokenHostpathDriver {
  public UnpublishRemovesDataDriver() {
    super(node -> new DelegatingNode(node) {
      @Override
      public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest request) {
        Path target = Path.of(request.getTargetPath());
        return Vertx.currentContext().owner().executeBlocking(() -> {
          removeFiles(target);
          return null;
        }, false).compose(v -> delegate.nodeUnpublishVolume(request));
      }
    });
  }

  private static void removeFiles(Path target) throws IOException {
    if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(target)) {
      for (Path e : entries) {
        if (Files.isRegularFile(e, LinkOption.NOFOLLOW_LINKS)) {
          Files.delete(e);
        }
      }
    }
  }
}
