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
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
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
        ApiClient.Answer a = ApiClient.send(socket, "GET", "/v1/status", null);
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
      ApiClient.Answer a = ApiClient.send(raw, "POST", "/chunked", body);
      assertEquals(201, a.status());
      assertEquals("got 200000 bytes: " + body, a.body());
      ApiClient.Answer b = ApiClient.send(raw, "GET", "/long", null);
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
    var e = assertThrows(IllegalStateException.class, () -> ApiClient.send(dir.resolve("none.sock"), "GET", "/v1/status", null));
    assertTrue(e.getMessage().contains("none.sock"), e.getMessage());
  }

  /** A socket file nobody serves any more (the agent died): the same error as a blocking client gives. */
  @Test
  void aSocketNobodyServesIsRefused() throws Exception {
    Path stale = dir.resolve("stale.sock");
    ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(stale)).close();
    var e = assertThrows(IOException.class, () -> ApiClient.send(stale, "GET", "/v1/status", null, ApiClient.QUICK));
    assertEquals("nobody serves the agent API socket " + stale + " (connection refused): is the agent running with this --root-dir?",
        e.getMessage());
  }

  /**
   * An agent that accepts no more connections (stuck, its backlog full): the connect fails at once, whatever the
   * deadline (none here), instead of blocking for ever.
   */
  @Test
  void aFullBacklogIsAnErrorAtOnce() throws Exception {
    Path full = dir.resolve("full.sock");
    List<SocketChannel> queued = new ArrayList<>();
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(full), 1);
      boolean filled = false;
      for (int i = 0; i < 100 && !filled; i++) {
        SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
        c.configureBlocking(false);
        try {
          c.connect(UnixDomainSocketAddress.of(full));
          queued.add(c);
        } catch (IOException backlogFull) {
          c.close();
          filled = true;
        }
      }
      assertTrue(filled, "the backlog never filled");
      var e = assertTimeoutPreemptively(Duration.ofSeconds(10),
          () -> assertThrows(IOException.class, () -> ApiClient.send(full, "DELETE", "/v1/pods/a/b", null)));
      assertEquals("the agent at " + full + " is not accepting connections (its backlog is full): is it stuck? Its log may tell",
          e.getMessage());
    } finally {
      for (SocketChannel c : queued) {
        c.close();
      }
    }
  }

  /** An interrupt ends a request without a deadline to a stuck agent, rather than a select that returns for ever. */
  @Test
  void anInterruptEndsAWait() throws Exception {
    Path stuck = dir.resolve("stuck2.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(stuck));
      var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
      Thread t = new Thread(() -> failure.set(assertThrows(IOException.class,
          () -> ApiClient.send(stuck, "DELETE", "/v1/persistentvolumes/pvc-1", null))));
      t.start();
      try (SocketChannel accepted = server.accept()) {
        t.interrupt();
        t.join(10_000);
        assertFalse(t.isAlive(), "the interrupted request still waits");
      }
      assertInstanceOf(java.io.InterruptedIOException.class, failure.get());
    }
  }

  /** Nothing but a path of printable ASCII goes into a request line: no header or request can be smuggled in. */
  @Test
  void aRequestTargetThatWouldForgeARequestIsRefusedBeforeConnecting() {
    for (String uri : List.of("/v1/pods/a/b HTTP/1.1\r\nX: y", "/v1/pods/a/b\nGET /", "/v1/pods/a b", "/v1/pods/ä/b", "v1/status", "")) {
      var e = assertThrows(IllegalArgumentException.class, () -> ApiClient.send(dir.resolve("none.sock"), "GET", uri, null));
      assertTrue(e.getMessage().startsWith("request target"), e.getMessage());
    }
  }

  /** NAMESPACE/NAME and --timeout are checked before anything is sent; every Kubernetes name passes as it is. */
  @Test
  void podArgumentsAreValidatedBeforeTheyAreSent() {
    assertEquals("/v1/pods/kube-system/web-0.x", PodCommand.podPath("kube-system/web-0.x"));
    assertEquals("/v1/pods/Default/My_Pod", PodCommand.podPath("Default/My_Pod"), "what the agent accepts from a manifest");
    for (String ref : List.of("ns/name?wait=23h", "ns/na me", "ns/a\r\nX: y", "../x", "ns/..", "ns/a%2Fb", "ns/a#b", "ns/é", "a/b/c", "ns/")) {
      assertThrows(IllegalArgumentException.class, () -> PodCommand.podPath(ref), ref);
    }
    assertEquals("1h30m0s", ApiClient.waitParameter(new DurationOption().convert("90m")));
    assertEquals("500ms", ApiClient.waitParameter(new DurationOption().convert("500ms")));
    assertEquals("24h0m0s", ApiClient.waitParameter(ApiClient.MAX_WAIT));
    assertEquals("'23h&x=1' is not a duration; use e.g. 500ms, 1s, 2m or 2m2s", // the option's usage error: DurationOptionsTest
        assertThrows(picocli.CommandLine.TypeConversionException.class, () -> new DurationOption().convert("23h&x=1")).getMessage());
    assertEquals("--timeout 25h0m0s is longer than 24h; wait less, again if need be",
        assertThrows(IllegalArgumentException.class, () -> ApiClient.waitParameter(Duration.ofHours(25))).getMessage());
  }

  /** The commands refuse such arguments with their error, and the agent is not asked. */
  @Test
  void commandsRefuseUnsendableNamesWithoutAsking() {
    for (String[] args : List.of(new String[] {"get", "ns/a b"}, new String[] {"delete", "ns/a?x"})) { // wait: DurationOptionsTest
      List<String> all = new ArrayList<>(List.of(args));
      all.addAll(List.of("--api-socket", socket.toString()));
      ByteArrayOutputStream err = new ByteArrayOutputStream();
      var cli = Main.withNested(new picocli.CommandLine(new PodCommand()), "pod", null);
      cli.setErr(new java.io.PrintWriter(err, true));
      cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
        cmd.getErr().println(ex.getMessage());
        return 1;
      });
      assertEquals(1, cli.execute(all.toArray(String[]::new)), String.join(" ", args));
      assertTrue(err.toString(StandardCharsets.UTF_8).contains("is not a name the agent's API can address"),
          err.toString(StandardCharsets.UTF_8));
    }
    var pv = Main.withNested(new picocli.CommandLine(new PvCommand()), "pv", null);
    pv.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      assertTrue(ex.getMessage().contains("is not the name of a PersistentVolume"), ex.getMessage());
      return 3;
    });
    assertEquals(3, pv.execute("delete", "pvc 1", "--api-socket", socket.toString()));
    assertEquals(3, pv.execute("delete", "..", "--api-socket", socket.toString()));
  }

  /** An agent that accepts but never answers (stuck): the CLI gives up at the deadline, naming the socket and request. */
  @Test
  void aStuckAgentTimesOut() throws Exception {
    Path stuck = dir.resolve("stuck.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(stuck));
      long start = System.nanoTime();
      var e = assertThrows(IOException.class, () -> ApiClient.send(stuck, "GET", "/v1/pods/a/b?wait=1s", null, Duration.ofMillis(300)));
      long tookMillis = (System.nanoTime() - start) / 1_000_000;
      assertEquals("the agent API at " + stuck + " did not answer GET /v1/pods/a/b?wait=1s within 300ms; is the agent stuck? Its log may tell",
          e.getMessage());
      assertTrue(tookMillis >= 300 && tookMillis < 10_000, tookMillis + " ms");
    }
  }

  /** {@code pod wait}: the agent answers when its wait is over, so the client waits that long and a little more. */
  @Test
  void aWaitGetsItsOwnDeadline() {
    assertEquals(Duration.ofSeconds(60), ApiClient.waitDeadline("30s"));
    assertEquals(Duration.ofMinutes(10).plus(ApiClient.QUICK), ApiClient.waitDeadline("10m"));
    // What the agent refuses at once (400) needs no more than any quick request.
    assertEquals(ApiClient.QUICK, ApiClient.waitDeadline("soon"));
    assertEquals(ApiClient.QUICK, ApiClient.waitDeadline("25h"));
  }

  /** Whatever serves the socket, a huge or malformed answer is an error naming the socket, not a heap exhausted. */
  @Test
  void aHugeOrMalformedAnswerIsAClearError() throws Exception {
    String huge = "HTTP/1.1 200 OK\r\nContent-Length: " + (HttpResponse.MAX_BODY + 1L) + "\r\n\r\n";
    assertTrue(answerTo(huge).contains("sent an answer of " + (HttpResponse.MAX_BODY + 1L) + " bytes"), answerTo(huge));
    assertTrue(answerTo("SSH-2.0-OpenSSH_9.2\r\n").contains("answered something that is not HTTP/1.1: 'SSH-2.0-OpenSSH_9.2'"));
    assertTrue(answerTo("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").contains("closed the connection after 5 of 10 body bytes"));
  }

  /** The error message of a request to a socket that answers {@code raw} and closes. */
  private String answerTo(String raw) throws Exception {
    Path s = Files.createTempFile(dir, "raw", ".sock");
    Files.delete(s);
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(s));
      Thread peer = new Thread(() -> {
        try (SocketChannel c = server.accept()) {
          c.write(ByteBuffer.wrap(raw.getBytes(StandardCharsets.ISO_8859_1)));
          c.shutdownOutput();
          c.read(ByteBuffer.allocate(4096)); // the request, so that closing does not reset the connection
        } catch (IOException e) {
          // the client gave up first: its error is what the test looks at
        }
      });
      peer.start();
      try {
        return assertThrows(IOException.class, () -> ApiClient.send(s, "GET", "/v1/status", null, ApiClient.QUICK)).getMessage();
      } finally {
        peer.join(10_000);
      }
    }
  }
}
