package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginCapabilitiesResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.IdentityGrpcService;
import dev.csinode.csi.v1.IdentityService;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GrpcUnixTransportTest {
  @TempDir Path dir;
  Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  /** Answers GetPluginInfo, fails Probe with a status and message, and never answers GetPluginCapabilities. */
  static final class TestIdentity extends IdentityService {
    @Override
    public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
      return Future.succeededFuture(GetPluginInfoResponse.newBuilder().setName("test.example.com").setVendorVersion("1").build());
    }

    @Override
    public Future<ProbeResponse> probe(ProbeRequest request) {
      return Future.failedFuture(new StatusException(GrpcStatus.FAILED_PRECONDITION, "probe refused: disk 100% full"));
    }

    @Override
    public Future<GetPluginCapabilitiesResponse> getPluginCapabilities(
        GetPluginCapabilitiesRequest request) {
      return Promise.<GetPluginCapabilitiesResponse>promise().future();
    }
  }

  private GrpcUnixServer serve(Path socket) {
    return Await.result(GrpcUnixServer.start(vertx, socket, List.of(IdentityGrpcService.of(new TestIdentity()))));
  }

  @Test
  void servesOnASocketWithDefaultMode0660AndCreatesParents() throws Exception {
    Path socket = dir.resolve("a/b/csi.sock");
    GrpcUnixServer server = serve(socket);
    assertTrue(SocketFiles.isSocket(socket));
    assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    try (GrpcUnixClient client = GrpcUnixClient.dial(vertx, "unix://" + socket)) {
      GetPluginInfoResponse r = Await.result(client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
      assertEquals("test.example.com", r.getName());
    }
    Await.result(server.close());
    assertFalse(Files.exists(socket), "close must remove the socket file");
  }

  @Test
  void socketModeIsConfigurable() throws Exception {
    Path socket = dir.resolve("api.sock");
    GrpcUnixServer server = Await.result(GrpcUnixServer.start(vertx, socket, PosixFilePermissions.fromString("rw-------"),
        List.of(IdentityGrpcService.of(new TestIdentity()))));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
    Await.result(server.close());
  }

  @Test
  void refusesASocketThatAnotherProcessServesAndLeavesItInPlace() throws Exception {
    Path socket = dir.resolve("live.sock");
    try (ServerSocketChannel other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(socket));
      Exception e = assertThrows(SocketInUseException.class, () -> serve(socket));
      assertTrue(e.getMessage().contains(socket.toString()), e.getMessage());
      assertTrue(e.getMessage().contains("another process is serving"), e.getMessage());
      assertTrue(SocketFiles.isSocket(socket), "the live socket must not be removed");
      assertTrue(SocketFiles.isServed(socket));
    }
  }

  @Test
  void replacesADeadSocket() throws Exception {
    Path socket = dir.resolve("stale.sock");
    ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
    dead.bind(UnixDomainSocketAddress.of(socket));
    dead.close(); // the JDK leaves the file behind, like a crashed process
    assertTrue(SocketFiles.isSocket(socket));
    assertFalse(SocketFiles.isServed(socket));
    GrpcUnixServer server = serve(socket);
    assertTrue(SocketFiles.isServed(socket));
    Await.result(server.close());
  }

  @Test
  void neverDeletesAFileThatIsNotASocket() throws Exception {
    Path file = dir.resolve("important.sock");
    Files.writeString(file, "not a socket");
    Exception e = assertThrows(SocketInUseException.class, () -> serve(file));
    assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
    assertEquals("not a socket", Files.readString(file));
  }

  @Test
  void failuresCarryTheStatusCodeAndTheServersMessage() throws Exception {
    Path socket = dir.resolve("csi.sock");
    GrpcUnixServer server = serve(socket);
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
      GrpcCallException e = Await.failure(client.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), Duration.ofSeconds(5)));
      assertEquals(GrpcStatus.FAILED_PRECONDITION, e.status());
      assertEquals("probe refused: disk 100% full", e.statusMessage());
    }
    Await.result(server.close());
  }

  @Test
  void aPeerThatNeverAnswersFailsWithDeadlineExceeded() throws Exception {
    Path socket = dir.resolve("slow.sock");
    GrpcUnixServer server = serve(socket);
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
      GrpcCallException e = Await.failure(client.call(IdentityGrpcClient.GetPluginCapabilities,
          GetPluginCapabilitiesRequest.getDefaultInstance(), Duration.ofMillis(300)));
      assertEquals(GrpcStatus.DEADLINE_EXCEEDED, e.status(), e.getMessage());
      assertTrue(e.statusMessage().contains("GetPluginCapabilities"), e.statusMessage());
    }
    Await.result(server.close());
  }

  @Test
  void aMissingSocketIsUnavailable() {
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(dir.resolve("nobody.sock")))) {
      GrpcCallException e = Await.failure(client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
      assertEquals(GrpcStatus.UNAVAILABLE, e.status());
      assertFalse(e.statusMessage().isBlank());
    }
  }

  /** Regression: from a non-Vert.x thread a response could be dispatched before its handlers were set. */
  @Test
  void manySequentialCallsFromAPlainThreadAllComplete() throws Exception {
    Path socket = dir.resolve("csi.sock");
    GrpcUnixServer server = serve(socket);
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
      for (int i = 0; i < 2000; i++) {
        assertEquals("test.example.com", Await.result(client.call(IdentityGrpcClient.GetPluginInfo,
            GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(10))).getName(), "call " + i);
      }
    }
    Await.result(server.close());
  }

  @Test
  void unboundServicesAnswerUnimplemented() throws Exception {
    Path socket = dir.resolve("csi.sock");
    GrpcUnixServer server = serve(socket);
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
      GrpcCallException e = Await.failure(client.call(NodeGrpcClient.NodeGetInfo,
          NodeGetInfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
      assertEquals(GrpcStatus.UNIMPLEMENTED, e.status());
    }
    Await.result(server.close());
  }
}
