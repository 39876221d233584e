package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.RegistrationGrpcClient;
import dev.csinode.pluginregistration.v1.RegistrationStatus;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's subcommands as separate processes, the way operators run them. */
class HostpathDriverProcessTest {
  @TempDir Path dir;
  private final Map<Process, Path> logs = new HashMap<>();

  /** Output goes to a file: a pipe nobody drains could block the process, and destroy() closes pipes. */
  private Process start(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    Path log = Files.createTempFile(dir, "out", ".log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    logs.put(p, log);
    return p;
  }

  private String output(Process p) throws Exception {
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "process did not exit");
    return Files.readString(logs.get(p), StandardCharsets.UTF_8);
  }

  @Test
  void servesUntilSigtermThenRemovesItsSocket() throws Exception {
    Path socket = dir.resolve("plugins/hostpath.csinode.dev/csi.sock");
    Process p = start("hostpath-driver", "--endpoint", "unix://" + socket, "--state-dir", dir.resolve("state").toString(),
        "--node-id", "proc-node", "--driver-name", "proc.example.com");
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!SocketFiles.isServed(socket)) {
        assertTrue(p.isAlive(), "driver exited early");
        assertTrue(System.nanoTime() < deadline, "driver did not start serving " + socket);
        Thread.onSpinWait();
      }
      Vertx vertx = Vertx.vertx();
      try (GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket))) {
        assertEquals("proc.example.com", Await.result(client.call(IdentityGrpcClient.GetPluginInfo,
            GetPluginInfoRequest.getDefaultInstance(), Duration.ofSeconds(10))).getName());
      } finally {
        Await.result(vertx.close());
      }
      p.toHandle().destroy(); // SIGTERM
      String out = output(p);
      assertFalse(Files.exists(socket), "SIGTERM must remove the socket; output:\n" + out);
      assertTrue(out.contains("stopped serving"), out);
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void refusesAnEndpointAnotherDriverServes() throws Exception {
    Path socket = dir.resolve("csi.sock");
    try (var other = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      other.bind(UnixDomainSocketAddress.of(socket));
      Process p = start("hostpath-driver", "--endpoint", socket.toString(), "--state-dir", dir.resolve("state").toString());
      String out = output(p);
      assertEquals(1, p.exitValue(), out);
      assertTrue(out.contains("another process is serving"), out);
      assertTrue(SocketFiles.isSocket(socket));
    }
  }

  private static void awaitSocket(Process p, Path socket) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!SocketFiles.isServed(socket)) {
      assertTrue(p.isAlive(), "process exited early");
      assertTrue(System.nanoTime() < deadline, "nothing served " + socket);
      Thread.onSpinWait();
    }
  }

  private static void refuse(Path regSocket) {
    Vertx vertx = Vertx.vertx();
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(regSocket))) {
      var info = Await.result(c.call(RegistrationGrpcClient.GetInfo, InfoRequest.getDefaultInstance(), Duration.ofSeconds(10)));
      assertEquals("CSIPlugin", info.getType());
      Await.result(c.call(RegistrationGrpcClient.NotifyRegistrationStatus,
          RegistrationStatus.newBuilder().setPluginRegistered(false).setError("test refuses").build(), Duration.ofSeconds(10)));
    } finally {
      Await.result(vertx.close());
    }
  }

  @Test
  void aDriverRegisteringItselfExitsNonZeroWhenRefused() throws Exception {
    Path socket = dir.resolve("plugins/self.example.com/csi.sock");
    Path reg = dir.resolve("plugins_registry/self.example.com-reg.sock");
    Process p = start("hostpath-driver", "--endpoint", socket.toString(), "--state-dir", dir.resolve("state").toString(),
        "--driver-name", "self.example.com", "--registration-dir", dir.resolve("plugins_registry").toString());
    try {
      awaitSocket(p, reg);
      refuse(reg);
      String out = output(p);
      assertEquals(1, p.exitValue(), out);
      assertTrue(out.contains("test refuses"), out);
      assertFalse(Files.exists(reg), "registration socket removed");
      assertFalse(Files.exists(socket), "driver socket removed");
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void theRegistrarSubcommandServesUntilSigtermOrRefusal() throws Exception {
    Path socket = dir.resolve("plugins/r.example.com/csi.sock");
    Process driver = start("hostpath-driver", "--endpoint", socket.toString(), "--state-dir", dir.resolve("state").toString(),
        "--driver-name", "r.example.com");
    Path reg = dir.resolve("registry/r.example.com-reg.sock");
    try {
      awaitSocket(driver, socket);
      String[] args = {"registrar", "--csi-address", socket.toString(), "--kubelet-registration-path", "/var/lib/kubelet/plugins/r/csi.sock",
          "--plugin-registration-path", dir.resolve("registry").toString()};
      Process r1 = start(args);
      awaitSocket(r1, reg);
      r1.toHandle().destroy();
      output(r1);
      assertFalse(Files.exists(reg), "SIGTERM removes the registration socket");
      Process r2 = start(args);
      awaitSocket(r2, reg);
      refuse(reg);
      String out = output(r2);
      assertEquals(1, r2.exitValue(), "a refused registration exits non-zero: " + out);
    } finally {
      driver.toHandle().destroy();
      driver.waitFor(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void badFlagsAreNamedAndHelpWorks() throws Exception {
    Process bad = start("hostpath-driver", "--endpoint", "tcp://1.2.3.4:5", "--state-dir", dir.toString());
    String out = output(bad);
    assertNotEquals(0, bad.exitValue());
    assertTrue(out.contains("tcp://1.2.3.4:5") && out.contains("UNIX socket"), out);
    Process size = start("hostpath-driver", "--endpoint", "/tmp/x.sock", "--state-dir", dir.toString(), "--capacity", "lots");
    String sizeOut = output(size);
    assertNotEquals(0, size.exitValue());
    assertTrue(sizeOut.contains("--capacity") && sizeOut.contains("lots"), sizeOut);
    Process help = start("hostpath-driver", "--help");
    String helpOut = output(help);
    assertEquals(0, help.exitValue());
    for (String flag : List.of("--endpoint", "--node-id", "--state-dir", "--driver-name", "--max-volumes-per-node", "--capacity", "--attach-required")) {
      assertTrue(helpOut.contains(flag), flag + " missing from help:\n" + helpOut);
    }
  }
}
