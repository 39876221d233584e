package dev.csinode.plugins;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.pluginregistration.v1.RegistrationGrpcClient;
import dev.csinode.pluginregistration.v1.RegistrationStatus;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.registrar.Registrar;
import dev.csinode.testing.Await;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Vertx;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RegistrarTest {
  @TempDir Path root;
  Vertx vertx;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
  }

  @AfterEach
  void stop() {
    Await.result(vertx.close());
  }

  Registrar registrar(TestCsiDriver d, String announced) {
    return Await.result(Registrar.start(vertx, new UnixEndpoint(Path.of(d.endpoint())), announced,
        root.resolve("plugins_registry"), Duration.ofSeconds(10), Duration.ofSeconds(1)));
  }

  @Test
  void answersGetInfoLikeNodeDriverRegistrarAndRemovesItsSocketOnStop() {
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins/x/csi.sock"), "x.example.com", "n");
    Registrar r = registrar(d, "/var/lib/kubelet/plugins/x/csi.sock");
    assertEquals(root.resolve("plugins_registry/x.example.com-reg.sock"), r.socket());
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(r.socket()))) {
      PluginInfo info = Await.result(c.call(RegistrationGrpcClient.GetInfo, InfoRequest.getDefaultInstance(), Duration.ofSeconds(5)));
      assertEquals("CSIPlugin", info.getType());
      assertEquals("x.example.com", info.getName());
      assertEquals("/var/lib/kubelet/plugins/x/csi.sock", info.getEndpoint());
      assertEquals(List.of("1.0.0"), info.getSupportedVersionsList());
    }
    Await.result(r.stop());
    assertFalse(Files.exists(r.socket()));
    d.close();
  }

  @Test
  void aRefusalFailsTheRejectionFuture() {
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins/y/csi.sock"), "y.example.com", "n");
    Registrar r = registrar(d, d.endpoint());
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(r.socket()))) {
      Await.result(c.call(RegistrationGrpcClient.NotifyRegistrationStatus,
          RegistrationStatus.newBuilder().setPluginRegistered(false).setError("nope").build(), Duration.ofSeconds(5)));
    }
    Exception e = assertThrows(Exception.class, () -> Await.result(r.rejection()));
    assertTrue(e.getMessage().contains("nope"), e.getMessage());
    Await.result(r.stop());
    d.close();
  }

  @Test
  void replacesItsOwnStaleSocketAndRegistersWithTheAgent() throws Exception {
    Path stale = root.resolve("plugins_registry/z.example.com-reg.sock");
    Files.createDirectories(stale.getParent());
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(stale));
    }
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins/z/csi.sock"), "z.example.com", "node-z");
    DriverRegistry registry = new DriverRegistry();
    PluginManager manager = new PluginManager(vertx, root, registry, new PrometheusRegistry(), PluginManager.Options.defaults());
    Await.result(manager.start());
    Registrar r = registrar(d, d.endpoint());
    assertTrue(SocketFiles.isServed(stale));
    Await.result(r.accepted());
    assertEquals("node-z", registry.get("z.example.com").orElseThrow().nodeId());
    Await.result(r.stop());
    Eventually.holds(Duration.ofSeconds(10), () -> registry.get("z.example.com").isEmpty(), () -> "still registered");
    Await.result(manager.stop());
    d.close();
  }

  @Test
  void aDriverThatNeverComesUpIsReportedWithItsAddress() {
    Path missing = root.resolve("plugins/none/csi.sock");
    Exception e = assertThrows(Exception.class, () -> Await.result(Registrar.start(vertx, new UnixEndpoint(missing),
        missing.toString(), root.resolve("plugins_registry"), Duration.ofMillis(300), Duration.ofSeconds(1))));
    assertTrue(e.getMessage().contains(missing.toString()) && e.getMessage().contains("--csi-address"), e.getMessage());
  }
}
