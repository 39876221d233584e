package dev.csinode.plugins;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.testing.Await;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Vertx;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A registrar and CSI driver written with Node.js grpc-js register with the agent: an independent gRPC stack. */
class GrpcJsRegistrationTest {
  static final Path NODE_DIR = Path.of("../proto/src/test/node").toAbsolutePath().normalize();
  @TempDir Path root;

  @Test
  void aGrpcJsDriverRegistersAndAnswersNodeGetInfo() throws Exception {
    assertTrue(Files.isDirectory(NODE_DIR.resolve("node_modules/@grpc/grpc-js")), "run scripts/test.sh (npm ci) first");
    Vertx vertx = Vertx.vertx();
    DriverRegistry registry = new DriverRegistry();
    PluginManager manager = new PluginManager(vertx, root, registry, new PrometheusRegistry(), PluginManager.Options.defaults());
    Await.result(manager.start());
    Path driverSocket = root.resolve("plugins/js.example.com/csi.sock");
    Files.createDirectories(driverSocket.getParent());
    Process p = new ProcessBuilder("node", "registrar-driver.js", root.resolve("plugins_registry").toString(),
        driverSocket.toString(), "js.example.com", "js-node").directory(NODE_DIR.toFile()).redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("listening", out.readLine());
      assertEquals("notified true", out.readLine(), "the grpc-js registrar hears it is registered");
      RegisteredDriver d = registry.get("js.example.com").orElseThrow();
      assertEquals("js-node", d.nodeId());
      assertEquals(3, d.maxVolumesPerNode());
      assertEquals("r9", d.topology().get("rack"));
      assertEquals(List.of("GET_VOLUME_STATS"), d.nodeCapabilities());
      assertEquals("unix://" + driverSocket, d.endpoint());
      p.toHandle().destroy();
      assertTrue(p.waitFor(10, TimeUnit.SECONDS));
      Eventually.holds(Duration.ofSeconds(10), () -> registry.get("js.example.com").isEmpty(), () -> "not deregistered");
    } finally {
      p.destroyForcibly();
      Await.result(manager.stop());
      Await.result(vertx.close());
    }
  }
}
