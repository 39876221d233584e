package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.api.AgentApi.ApiException;
import dev.csinode.agent.api.AgentApiServer;
import dev.csinode.agent.api.StubApi;
import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the CLI prints from its input and from the agent's answers: no control character, ESC or bidi override
 * reaches the terminal, so nothing can forge a line or rewrite one.
 */
class CliOutputTest {
  /** A line that looks like the CLI's own, an ESC sequence that clears a line, a bidi override, a C1 CSI. */
  static final String FORGED = "x\nremoved /var/lib/kubelet/pods/ok: empty\r\u001b[2K\u202e\u009b";

  @TempDir Path dir;
  Vertx vertx;
  Path socket;
  AgentApiServer server;

  /**
   * The agent's answers: orphans whose path and reason (file names in the directory) hold {@link #FORGED}; a pod
   * whose volume's error does; errors (a cleanup, a wait) that say it.
   */
  final StubApi api = new StubApi(StubApi.status("n", List.of(), List.of())) {
    @Override
    public Future<List<Orphan>> orphans(boolean remove) {
      return remove ? Future.failedFuture(new IllegalStateException("cleanup failed: " + FORGED)) : Future.succeededFuture(List.of(
          new Orphan(null, "/var/lib/kubelet/pods/" + FORGED, HousekeepingAction.KEEP, "it holds files the agent did not create: " + FORGED)));
    }

    @Override
    public Future<PodStatus> waitReady(String namespace, String name, Duration timeout) {
      return Future.failedFuture(new ApiException(504, "volume v: " + FORGED));
    }

    @Override
    public Optional<PodStatus> pod(String namespace, String name) {
      return Optional.of(new PodStatus(namespace + "/" + name, null, false,
          List.of(new PodVolume("v", null, null, null, null, null, null, FORGED, null)), List.of(), List.of(), List.of()));
    }
  };

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    socket = dir.resolve("api.sock");
    server = Await.result(AgentApiServer.start(vertx, socket, api));
  }

  @AfterEach
  void stop() {
    Await.result(server.stop());
    Await.result(vertx.close());
  }

  record Printed(int code, String out, String err) {
    void assertClean() {
      for (String s : List.of(out, err)) {
        assertTrue(s.lines().noneMatch(l -> l.startsWith("removed ")), s);
        assertTrue(s.chars().noneMatch(c -> c == '\r' || c == 0x1b || c == 0x202e || c == 0x9b), s);
      }
    }
  }

  /** Runs a command the way Main does, with stdout and stderr (System's and picocli's) captured. */
  static Printed run(String... args) {
    PrintStream out0 = System.out;
    PrintStream err0 = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    StringWriter cliErr = new StringWriter();
    try {
      System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
      System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
      int code = Main.commandLine().setErr(new PrintWriter(cliErr, true)).execute(args);
      return new Printed(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8) + cliErr);
    } finally {
      System.setOut(out0);
      System.setErr(err0);
    }
  }

  @Test
  void orphansPrintsPathsAndReasonsEscaped() {
    Printed p = run("orphans", "--api-socket", socket.toString());
    assertEquals(0, p.code(), p.err());
    p.assertClean();
    String escaped = "x\\nremoved /var/lib/kubelet/pods/ok: empty\\r\\u001b[2K\\u202e\\u009b";
    assertTrue(p.out().contains("keeps /var/lib/kubelet/pods/" + escaped + ": it holds files the agent did not create: " + escaped), p.out());
    assertEquals(2, p.out().lines().count(), p.out()); // "dry run: nothing changed" and the one directory
  }

  /** The JSON stays the agent's document (same values once parsed); only the characters a terminal acts on are escaped. */
  @Test
  void jsonOutputEscapesWhatTheTerminalWouldActOn() throws Exception {
    for (String[] args : List.of(new String[] {"orphans", "-o", "json"}, new String[] {"pod", "get", "default/p"})) {
      String[] full = Stream.concat(Arrays.stream(args), Stream.of("--api-socket", socket.toString()))
          .toArray(String[]::new);
      Printed p = run(full);
      assertEquals(0, p.code(), p.err());
      p.assertClean();
      assertTrue(p.out().contains("\\u202e\\u009b"), p.out());
      assertTrue(p.out().contains(FORGED.substring(0, 1) + "\\nremoved"), p.out());
      String parsed = new ObjectMapper().readTree(p.out()).toString();
      assertTrue(parsed.contains(new ObjectMapper().writeValueAsString(FORGED).replace("\"", "")), parsed);
    }
  }

  @Test
  void theAgentsErrorAnswersAreEscaped() {
    Printed p = run("status", "--api-socket", dir.resolve("none\n" + FORGED + ".sock").toString());
    assertEquals(1, p.code());
    p.assertClean();
    assertTrue(p.err().startsWith("status: no agent API socket at "), p.err());
    assertEquals(1, p.err().lines().count(), p.err());
    Printed cleanup = run("orphans", "--remove", "--api-socket", socket.toString());
    assertEquals(1, cleanup.code());
    cleanup.assertClean();
    assertTrue(cleanup.err().startsWith("orphans: the agent answered 503: cleanup failed: x\\nremoved "), cleanup.err());
    assertEquals(1, cleanup.err().lines().count(), cleanup.err());
    Printed wait = run("pod", "wait", "default/p", "--api-socket", socket.toString());
    assertEquals(1, wait.code());
    wait.assertClean();
    assertTrue(wait.err().contains("\"volume v: x\\nremoved "), wait.err());
  }

  /** picocli's messages quote the command line; the execution handler quotes the exception message. */
  @Test
  void commandLineErrorsAreEscaped() {
    Printed unknown = run("status", "--bogus\n" + FORGED);
    assertEquals(2, unknown.code());
    unknown.assertClean();
    assertTrue(unknown.err().contains("--bogus\\nx\\nremoved"), unknown.err());
    Printed format = run("orphans", "-o", FORGED, "--api-socket", socket.toString());
    assertEquals(2, format.code());
    format.assertClean();
    Printed podRef = run("pod", "get", "a\n" + FORGED, "--api-socket", socket.toString());
    assertEquals(1, podRef.code());
    podRef.assertClean();
    assertTrue(podRef.err().contains("'a\\nx\\nremoved"), podRef.err());
    Printed conversion = run("run", "--max-parallel-operations", "1\n" + FORGED);
    assertEquals(2, conversion.code());
    conversion.assertClean();
  }

  @Test
  void plainTextStaysAsItIs() {
    assertEquals("pods/ä-b: ok", TerminalText.text("pods/ä-b: ok"));
    assertEquals("{\n  \"a\" : \"ä\"\n}", TerminalText.json("{\"a\":\"ä\"}"));
    assertEquals("not json\\n", TerminalText.json("not json\n"));
    assertEquals("boom\\u001b", TerminalText.agentError("{\"error\":\"boom\\u001b\"}"));
  }
}
