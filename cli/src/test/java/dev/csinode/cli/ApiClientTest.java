package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.api.AgentApiServer;
import dev.csinode.agent.api.StubApi;
import dev.csinode.agent.status.DriverStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.grpc.UnixHttpListener;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpMethod;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's client against a live agent API, under the JVM options an operator may use. */
class ApiClientTest {
  @TempDir Path dir;
  Vertx vertx;
  Path socket;
  AgentApiServer server;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    socket = dir.resolve("api.sock");
    server = Await.result(AgentApiServer.start(vertx, socket, new StubApi(StubApi.status("gc-node", List.of(), List.of()))));
  }

  @AfterEach
  void stop() {
    Await.result(server.stop());
    Await.result(vertx.close());
  }

  /** {@code status} as a separate JVM, as the launcher runs it, but with each collector (the default is G1). */
  @Test
  void statusAnswersUnderEveryGarbageCollector() throws Exception {
    for (List<String> options : List.of(List.<String>of(), List.of("-XX:+UseG1GC", "-Xmx32m"),
        List.of("-XX:+UseParallelGC"))) {
      List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
      cmd.addAll(options);
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "status", "--api-socket",
          socket.toString(), "-o", "json"));
      Path out = Files.createTempFile(dir, "status", ".out");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      try {
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "status did not exit with " + options);
        String text = Files.readString(out, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "status with " + options + " failed:\n" + text);
        assertTrue(text.contains("\"gc-node\""), text);
      } finally {
        p.destroyForcibly();
      }
    }
  }

  /** Collections while requests are in flight (what G1 does during a CLI run) must not end any of them. */
  @Test
  void requestsSurviveGarbageCollectionsMeanwhile() throws Exception {
    AtomicBoolean done = new AtomicBoolean();
    Thread gc = new Thread(() -> {
      while (!done.get()) {
        System.gc();
      }
    });
    gc.start();
    try {
      for (int i = 0; i < 100; i++) {
        ApiClient.Answer a = ApiClient.send(socket, HttpMethod.GET, "/v1/status", null);
        assertEquals(200, a.status(), a.body());
        assertTrue(a.body().contains("gc-node"), a.body());
      }
    } finally {
      done.set(true);
      gc.join();
    }
  }

  @Test
  void readsChunkedAndUnframedBodiesAndSendsItsOwn() throws Exception {
    Path raw = dir.resolve("raw.sock");
    UnixHttpListener l = Await.result(UnixHttpListener.listen(vertx, raw, PosixFilePermissions.fromString("rw-------"),
        req -> req.body().onSuccess(b -> {
          var resp = req.response().setStatusCode(req.path().equals("/chunked") ? 201 : 422);
          if (req.path().equals("/chunked")) {
            resp.setChunked(true);
            resp.write("got ");
            resp.write(b.length() + " bytes: ");
            resp.end(b);
          } else {
            resp.end("ü".repeat(70_000));
          }
        })));
    try {
      String body = "ä".repeat(100_000);
      ApiClient.Answer a = ApiClient.send(raw, HttpMethod.POST, "/chunked", body);
      assertEquals(201, a.status());
      assertEquals("got 200000 bytes: " + body, a.body());
      ApiClient.Answer b = ApiClient.send(raw, HttpMethod.GET, "/long", null);
      assertEquals(422, b.status());
      assertEquals("ü".repeat(70_000), b.body());
    } finally {
      Await.result(l.close());
    }
  }

  /** A name, handle or driver message with control characters: escaped in the table, escaped by the encoder in the JSON. */
  @Test
  void statusCannotBeForgedByControlCharacters() throws Exception {
    String forged = "h\nnode-x  registered  yes  n1  unix:///fake\u001b[2K";
    Path s2 = dir.resolve("api2.sock");
    AgentApiServer other = Await.result(AgentApiServer.start(vertx, s2, new StubApi(StubApi.status("n",
        List.of(new DriverStatus("d\r", null, null, "failed", forged, null, List.of(), Map.of(), 0, null, null, null)),
        List.of(new PodStatus("default/p", "u", false, List.of(new PodVolume("v", null, "d", null, "failed", null, null, forged, null)),
            List.of(), List.of(), List.of()))))));
    try {
      PrintStream stdout = System.out;
      ByteArrayOutputStream table = new ByteArrayOutputStream();
      ByteArrayOutputStream json = new ByteArrayOutputStream();
      try {
        System.setOut(new PrintStream(table, true, StandardCharsets.UTF_8));
        assertEquals(0, new picocli.CommandLine(new StatusCommand()).execute("--api-socket", s2.toString()));
        System.setOut(new PrintStream(json, true, StandardCharsets.UTF_8));
        assertEquals(0, new picocli.CommandLine(new StatusCommand()).execute("--api-socket", s2.toString(), "-o", "json"));
      } finally {
        System.setOut(stdout);
      }
      String text = table.toString(StandardCharsets.UTF_8);
      assertTrue(text.lines().noneMatch(l -> l.startsWith("node-x")), text);
      assertTrue(text.contains("h\\nnode-x  registered  yes  n1  unix:///fake\\u001b[2K"), text);
      assertFalse(text.contains("\r") || text.contains("\u001b"), text);
      String out = json.toString(StandardCharsets.UTF_8);
      assertTrue(out.lines().noneMatch(l -> l.startsWith("node-x")), out);
      assertEquals(forged, new ObjectMapper().readTree(out).path("drivers").get(0).path("reason").asText());
    } finally {
      Await.result(other.stop());
    }
  }

  @Test
  void aMissingSocketNamesIt() {
    var e = assertThrows(IllegalStateException.class, () -> ApiClient.send(dir.resolve("none.sock"), HttpMethod.GET, "/v1/status", null));
    assertTrue(e.getMessage().contains("none.sock"), e.getMessage());
  }
}
