package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code csi-node-agent fault-proxy} as a process, in front of the bundled driver, driven by the project's own client. */
class FaultProxyCommandTest {
  @TempDir Path dir;

  private Process start(Path log, String... args) throws Exception {
    return start(List.of(), log, args);
  }

  /** The command as a process, its command line after {@code prefix} (a wrapper such as unshare). */
  private Process start(List<String> prefix, Path log, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(prefix);
    cmd.addAll(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static String output(Process p, Path log) throws Exception {
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "process did not exit");
    return Files.readString(log, StandardCharsets.UTF_8);
  }

  private static void awaitServed(Process p, Path socket, Path log) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!SocketFiles.isServed(socket)) {
      if (!p.isAlive() || System.nanoTime() >= deadline) {
        fail((p.isAlive() ? "nothing served " + socket : "process exited early") + "; its log:\n" + Files.readString(log));
      }
      Thread.onSpinWait();
    }
  }

  /**
   * A proxy whose start fails must fail before its socket is served. It used to watch the rules file only after
   * listening: when the watch failed (inotify instances are 128 per user by default, shared by every process of the
   * user), it withdrew the socket a client had just seen served, and that client's first call got "connection
   * refused". Here the proxy runs in a user namespace that allows no inotify instance at all.
   */
  @Test
  void aProxyThatCannotWatchItsRulesFailsWithoutEverServing() throws Exception {
    List<String> noInotify = List.of("unshare", "--user", "--map-root-user", "sh", "-c",
        "echo 0 > /proc/sys/user/max_inotify_instances && exec \"$@\"", "sh");
    List<String> probeCmd = new ArrayList<>(noInotify);
    probeCmd.add("true");
    Process probe = new ProcessBuilder(probeCmd).redirectErrorStream(true).start();
    probe.getInputStream().transferTo(OutputStream.nullOutputStream());
    assumeTrue(probe.waitFor(60, TimeUnit.SECONDS) && probe.exitValue() == 0,
        "needs unshare --user and a writable user.max_inotify_instances to deny inotify to one process");

    Path rules = Files.writeString(dir.resolve("rules.yaml"), "rules: []\n");
    Path socket = dir.resolve("proxy/csi.sock");
    Path log = dir.resolve("proxy.log");
    Process proxy = start(noInotify, log, "fault-proxy", "--listen", socket.toString(), "--target",
        dir.resolve("driver/csi.sock").toString(), "--rules", rules.toString());
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      boolean served = false;
      while (proxy.isAlive() && System.nanoTime() < deadline) {
        served |= SocketFiles.isServed(socket); // watched all along: the window was some 100 ms wide
        Thread.onSpinWait();
      }
      String out = output(proxy, log);
      assertFalse(served, "the proxy served its socket although its start failed:\n" + out);
      assertEquals(1, proxy.exitValue(), out);
      assertTrue(out.contains("fault-proxy: cannot watch the rules file " + rules + " for changes"), out);
      assertFalse(Files.exists(socket, LinkOption.NOFOLLOW_LINKS), out);
    } finally {
      proxy.destroyForcibly();
    }
  }

  @Test
  void aBadRulesFileOrUsageExitsTwoNamingFileAndLine() throws Exception {
    Path rules = dir.resolve("rules.yaml");
    Files.writeString(rules, "rules:\n  - name: c\n    method: NodeStageVolume\n    action: explode\n");
    Path log = dir.resolve("out.log");
    Process p = start(log, "fault-proxy", "--listen", dir.resolve("p.sock").toString(), "--target", dir.resolve("d.sock").toString(),
        "--rules", rules.toString());
    String out = output(p, log);
    assertEquals(2, p.exitValue(), out);
    assertTrue(out.contains(rules + ":4: rule c: action: 'explode' is not one of"), out);
    assertFalse(Files.exists(dir.resolve("p.sock")));

    Process usage = start(log, "fault-proxy", "--listen", dir.resolve("p.sock").toString(), "--rules", rules.toString());
    assertEquals(2, usage.waitFor(60, TimeUnit.SECONDS) ? usage.exitValue() : -1, Files.readString(log));
  }

  @Test
  void forwardsToTheDriverAppliesReloadedRulesTracesAndStopsOnSigterm() throws Exception {
    Path driverSocket = dir.resolve("driver/csi.sock");
    Path proxySocket = dir.resolve("proxy/csi.sock");
    Path rules = dir.resolve("rules.yaml");
    Path traceFile = dir.resolve("trace.jsonl");
    Files.writeString(rules, "rules: []\n");
    Path driverLog = dir.resolve("driver.log");
    Path proxyLog = dir.resolve("proxy.log");
    Process driver = start(driverLog, "hostpath-driver", "--endpoint", driverSocket.toString(), "--state-dir",
        dir.resolve("state").toString(), "--driver-name", "fp.example.com");
    Process proxy = null;
    Vertx vertx = Vertx.vertx();
    try {
      awaitServed(driver, driverSocket, driverLog);
      proxy = start(proxyLog, "fault-proxy", "--listen", "unix://" + proxySocket, "--target", "unix://" + driverSocket,
          "--rules", rules.toString(), "--seed", "5", "--trace", traceFile.toString());
      awaitServed(proxy, proxySocket, proxyLog);
      try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(proxySocket))) {
        try {
          assertEquals("fp.example.com", Await.result(client.call(IdentityGrpcClient.GetPluginInfo,
              GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(10))).getName());
        } catch (GrpcCallException e) {
          // Seen twice in full-suite runs (connection refused right after the socket was served): say what the
          // proxy and the driver said then.
          throw new AssertionError("the first call through the proxy failed; proxy alive: " + proxy.isAlive()
              + ", driver alive: " + driver.isAlive() + "\nproxy log:\n" + Files.readString(proxyLog)
              + "\ndriver log:\n" + Files.readString(driverLog), e);
        }

        Path next = dir.resolve("rules.next");
        Files.writeString(next, "rules:\n  - name: not-ready\n    method: Probe\n    action: fail\n    code: FAILED_PRECONDITION\n"
            + "    message: 'injected: not ready'\n");
        Files.move(next, rules, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        GrpcCallException failed = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (failed == null) { // the reload is asynchronous: the fault shows on some call after the move
          assertTrue(System.nanoTime() < deadline, "the changed rules file was not applied");
          try {
            Await.result(client.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), Duration.ofSeconds(10)));
          } catch (GrpcCallException e) {
            failed = e;
          }
        }
        assertEquals(GrpcStatus.FAILED_PRECONDITION, failed.status());
        assertEquals("injected: not ready", failed.statusMessage());
      }
      proxy.toHandle().destroy(); // SIGTERM
      String out = output(proxy, proxyLog);
      assertFalse(proxy.isAlive());
      assertFalse(Files.exists(proxySocket), "SIGTERM removes the proxy's socket:\n" + out);
      assertTrue(out.contains("fault not-ready: fail Probe"), out);
      assertTrue(out.contains("rules reloaded from"), out);
      ObjectMapper json = new ObjectMapper();
      List<JsonNode> lines = new ArrayList<>();
      for (String line : Files.readAllLines(traceFile)) {
        lines.add(json.readTree(line));
      }
      assertEquals("GetPluginInfo", lines.get(0).get("method").asText());
      assertEquals("OK", lines.get(0).get("code").asText());
      JsonNode last = lines.get(lines.size() - 1);
      assertEquals("Probe FAILED_PRECONDITION not-ready false", last.get("method").asText() + " " + last.get("code").asText()
          + " " + last.get("fault").asText() + " " + last.get("probe").asBoolean(), last.toString());
      assertTrue(SocketFiles.isServed(driverSocket), "the driver is untouched");
    } finally {
      Await.result(vertx.close());
      if (proxy != null) {
        proxy.destroyForcibly();
      }
      driver.destroy();
      driver.waitFor(30, TimeUnit.SECONDS);
    }
  }
}
