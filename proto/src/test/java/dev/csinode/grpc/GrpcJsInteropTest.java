package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Interop with an independent gRPC stack, Node.js grpc-js (pinned in src/test/node/package-lock.json and
 * installed by scripts/test.sh). grpc-js resets streams without :authority, so the client direction also
 * proves the authority workaround.
 */
class GrpcJsInteropTest {
  static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
  @TempDir Path dir;
  Vertx vertx;

  @BeforeEach
  void start() {
    assertTrue(Files.isDirectory(NODE_DIR.resolve("node_modules/@grpc/grpc-js")),
        "grpc-js is not installed in " + NODE_DIR + "; run scripts/test.sh (it runs npm ci there)");
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  @Test
  void grpcJsClientCallsOurServer() throws Exception {
    Path socket = dir.resolve("csi.sock");
    IdentityService identity = new IdentityService() {
      @Override
      public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
        return Future.succeededFuture(GetPluginInfoResponse.newBuilder().setName("java.example.com").setVendorVersion("0.1.0").build());
      }
    };
    NodeService node = new NodeService() {
      @Override
      public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest request) {
        return Future.succeededFuture(NodeGetInfoResponse.newBuilder().setNodeId("java-node").setMaxVolumesPerNode(42).build());
      }

      @Override
      public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest request) {
        return Future.failedFuture(new StatusException(GrpcStatus.INVALID_ARGUMENT, "volume_id is required"));
      }
    };
    GrpcUnixServer server = Await.result(GrpcUnixServer.start(vertx, socket,
        List.of(IdentityGrpcService.of(identity), NodeGrpcService.of(node))));
    Process p = new ProcessBuilder("node", "interop.js", "client", socket.toString()).directory(NODE_DIR.toFile())
        .redirectErrorStream(true).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "grpc-js client did not finish");
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.exitValue(), out);
    assertTrue(out.contains("\"name\":\"java.example.com\""), out);
    assertTrue(out.contains("\"node_id\":\"java-node\""), out);
    assertTrue(out.contains("\"max_volumes_per_node\":\"42\""), out);
    assertTrue(out.contains("\"stageError\":{\"code\":3,\"details\":\"volume_id is required\"}"), out);
    Await.result(server.close());
  }

  @Test
  void ourClientCallsAGrpcJsServer() throws Exception {
    Path socket = dir.resolve("js.sock");
    Process p = new ProcessBuilder("node", "interop.js", "server", socket.toString()).directory(NODE_DIR.toFile())
        .redirectErrorStream(true).start();
    try {
      BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("listening", r.readLine(), "grpc-js server did not start");
      try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
        GetPluginInfoResponse info = Await.result(client.call(IdentityGrpcClient.GetPluginInfo,
            GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
        assertEquals("grpcjs.example.com", info.getName());
        assertEquals("grpc-js", info.getManifestMap().get("stack"));
        NodeGetInfoResponse nodeInfo = Await.result(client.call(NodeGrpcClient.NodeGetInfo,
            NodeGetInfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
        assertEquals("js-node", nodeInfo.getNodeId());
        assertEquals(7, nodeInfo.getMaxVolumesPerNode());
        GrpcCallException e = Await.failure(client.call(NodeGrpcClient.NodeStageVolume,
            NodeStageVolumeRequest.newBuilder().setVolumeId("v 1%").build(), Duration.ofSeconds(5)));
        assertEquals(GrpcStatus.NOT_FOUND, e.status());
        assertEquals("volume v 1% is unknown to grpc-js", e.statusMessage());
      }
    } finally {
      p.destroy();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
