package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.cli.Main;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent with its bundled driver: the driver registers through its own registration socket; status shows it. */
class AgentRegistrationTest {
  @TempDir Path root;

  @Test
  void theBundledDriverRegistersLikeAnyOtherAndStatusShowsIt() throws Exception {
    Vertx vertx = Vertx.vertx();
    Agent agent = new Agent(vertx, new Agent.Config(root, "node-7", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults()));
    Await.result(agent.start());
    try {
      Path regSocket = root.resolve("plugins_registry/hostpath.csinode.dev-reg.sock");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (agent.drivers().get("hostpath.csinode.dev").isEmpty()) {
        assertTrue(System.nanoTime() < deadline, "bundled driver did not register: " + agent.status());
        Thread.sleep(5);
      }
      assertTrue(Files.exists(regSocket), "it registered through its registration socket");
      Path api = root.resolve("csi-node-agent.sock");
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(api)));

      // The status subcommand as a separate process, as an operator's second terminal would run it.
      List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), Main.class.getName(), "status", "--root-dir", root.toString(), "-o", "json"));
      Path out = root.resolve("status.json");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      assertTrue(p.waitFor(60, TimeUnit.SECONDS));
      String json = Files.readString(out, StandardCharsets.UTF_8);
      assertEquals(0, p.exitValue(), json);
      JsonNode d = new ObjectMapper().readTree(json).path("drivers").get(0);
      assertEquals("hostpath.csinode.dev", d.path("name").asText());
      assertEquals("unix://" + root.resolve("plugins/hostpath.csinode.dev/csi.sock"), d.path("endpoint").asText());
      assertEquals("node-7", d.path("nodeId").asText());
      assertEquals("registered", d.path("state").asText());
      assertTrue(d.path("healthy").asBoolean());
      assertTrue(d.path("capabilities").toString().contains("STAGE_UNSTAGE_VOLUME"));
    } finally {
      Await.result(agent.stop());
      Await.result(vertx.close());
    }
    assertFalse(Files.exists(root.resolve("csi-node-agent.sock")), "stop removes the API socket");
    assertFalse(Files.exists(root.resolve("plugins_registry/hostpath.csinode.dev-reg.sock")));
  }

  @Test
  void statusWithoutAnAgentSaysWhereItLooked() throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "status", "--root-dir", root.toString()));
    Path out = root.resolve("out.txt");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(1, p.exitValue());
    assertTrue(Files.readString(out).contains(root.resolve("csi-node-agent.sock").toString()), Files.readString(out));
  }
}
