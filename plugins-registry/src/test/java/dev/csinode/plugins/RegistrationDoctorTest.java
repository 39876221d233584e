package dev.csinode.plugins;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.plugins.doctor.Finding;
import dev.csinode.plugins.doctor.RegistrationDoctor;
import dev.csinode.plugins.doctor.RegistrationReport;
import dev.csinode.plugins.doctor.SocketReport;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registration doctor against real sockets: each problem it names, found; a healthy directory, passed; nothing changed. */
class RegistrationDoctorTest {
  @TempDir Path root;
  Vertx vertx;
  Path registry;
  RegistrationDoctor doctor;

  @BeforeEach
  void setUp() throws IOException {
    vertx = Vertx.vertx();
    registry = Files.createDirectories(root.resolve("plugins_registry"));
    doctor = new RegistrationDoctor(vertx, Duration.ofSeconds(2));
  }

  @AfterEach
  void tearDown() {
    Await.result(vertx.close());
  }

  @Test
  void aRegisteredDriverThatAnswersEverythingIsHealthyAndIsNeverNotified() throws Exception {
    try (var driver = new TestCsiDriver(vertx, root.resolve("plugins/d.example.com/csi.sock"), "d.example.com", "n1");
         var reg = new TestRegistrationPlugin(vertx, registry.resolve("d.example.com-reg.sock"),
             TestRegistrationPlugin.csi("d.example.com", driver.endpoint()), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertTrue(report.healthy(), () -> "healthy, but: " + report);
      SocketReport s = only(report);
      assertEquals("d.example.com", s.driverName());
      assertTrue(texts(s).contains("NodeGetInfo: node id 'n1'"), texts(s));
      assertTrue(texts(s).contains("STAGE_UNSTAGE_VOLUME"), texts(s));
      assertEquals(1, reg.getInfoCalls.get());
      assertTrue(reg.notifications.isEmpty(), "the doctor must not call NotifyRegistrationStatus: node-driver-registrar exits on false");
    }
  }

  @Test
  void aSocketNobodyServesIsStaleAndIsLeftInPlace() throws Exception {
    Path stale = deadSocket(registry.resolve("gone.example.com-reg.sock"));
    Map<String, Object> before = listing();
    RegistrationReport report = Await.result(doctor.examine(registry));
    assertFalse(report.healthy());
    assertTrue(problems(only(report)).startsWith("stale: nothing listens"), problems(only(report)));
    assertTrue(only(report).findings().stream().anyMatch(f -> f.nextStep().contains("remove this file")));
    assertTrue(Files.exists(stale, LinkOption.NOFOLLOW_LINKS), "read-only: the stale socket stays");
    assertEquals(before, listing(), "read-only: the directory is as it was");
  }

  @Test
  void getInfoWithANameTheKubeletRefusesIsAProblem() throws Exception {
    try (var reg = new TestRegistrationPlugin(vertx, registry.resolve("bad-reg.sock"),
        TestRegistrationPlugin.csi("-bad_name-", "/nowhere.sock"), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertTrue(problems(only(report)).contains("the kubelet would refuse it: driver name '-bad_name-' is not a valid CSI driver name"),
          problems(only(report)));
    }
  }

  @Test
  void twoSocketsClaimingOneDriverAreBothNamed() throws Exception {
    try (var driver = new TestCsiDriver(vertx, root.resolve("plugins/d.example.com/csi.sock"), "d.example.com", "n1");
         var a = new TestRegistrationPlugin(vertx, registry.resolve("a-reg.sock"), TestRegistrationPlugin.csi("d.example.com", driver.endpoint()), false);
         var b = new TestRegistrationPlugin(vertx, registry.resolve("sub/b-reg.sock"), TestRegistrationPlugin.csi("d.example.com", driver.endpoint()), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertEquals(2, report.sockets().size());
      assertEquals(2, report.problems(), report.toString());
      SocketReport first = report.sockets().get(0);
      SocketReport second = report.sockets().get(1);
      assertTrue(problems(first).contains("also registered through " + registry.resolve("sub/b-reg.sock")), problems(first));
      assertTrue(problems(second).contains("also registered through " + registry.resolve("a-reg.sock")), problems(second));
    }
  }

  @Test
  void anEndpointNobodyServesIsAProblemOfTheDriverNotOfTheRegistration() throws Exception {
    Path endpoint = deadSocket(Files.createDirectories(root.resolve("plugins/d.example.com")).resolve("csi.sock"));
    try (var reg = new TestRegistrationPlugin(vertx, registry.resolve("d-reg.sock"), TestRegistrationPlugin.csi("d.example.com", endpoint.toString()), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertTrue(problems(only(report)).contains("nothing listens on endpoint " + endpoint + ": the driver is not running"),
          problems(only(report)));
    }
  }

  @Test
  void anEndpointThatIsNotASocketOnThisHostPointsAtTheRegistrationPath() throws Exception {
    try (var reg = new TestRegistrationPlugin(vertx, registry.resolve("d-reg.sock"), TestRegistrationPlugin.csi("d.example.com", "/csi/csi.sock"), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      SocketReport s = only(report);
      assertTrue(problems(s).contains("endpoint /csi/csi.sock is not a socket on this host"), problems(s));
      assertTrue(s.findings().stream().anyMatch(f -> f.nextStep().contains("--kubelet-registration-path")));
    }
  }

  @Test
  void aDriverThatCallsItselfOtherwiseThanItRegistersIsAProblem() throws Exception {
    try (var driver = new TestCsiDriver(vertx, root.resolve("plugins/real/csi.sock"), "real.example.com", "n1");
         var reg = new TestRegistrationPlugin(vertx, registry.resolve("d-reg.sock"), TestRegistrationPlugin.csi("claimed.example.com", driver.endpoint()), false)) {
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertTrue(problems(only(report)).contains("calls itself 'real.example.com' but registers as 'claimed.example.com'"),
          problems(only(report)));
    }
  }

  @Test
  void aRegistrationSocketWhoseGetInfoNeverAnswersIsAProblemWithinTheTimeout() throws Exception {
    try (var reg = new TestRegistrationPlugin(vertx, registry.resolve("slow-reg.sock"), TestRegistrationPlugin.csi("d.example.com", "/x.sock"), true)) {
      RegistrationReport report = Await.result(new RegistrationDoctor(vertx, Duration.ofMillis(300)).examine(registry));
      assertTrue(problems(only(report)).startsWith("something listens, but GetInfo failed"), problems(only(report)));
    }
  }

  @Test
  void aMissingDirectoryIsAProblemAndNotCreated() {
    Path missing = root.resolve("nope/plugins_registry");
    RegistrationReport report = Await.result(doctor.examine(missing));
    assertEquals(1, report.problems());
    assertFalse(Files.exists(missing.getParent()));
  }

  @Test
  void aGrpcJsRegistrarAndDriverAreHealthy() throws Exception {
    Path nodeDir = GrpcJsRegistrationTest.NODE_DIR;
    assertTrue(Files.isDirectory(nodeDir.resolve("node_modules/@grpc/grpc-js")), "run scripts/test.sh (npm ci) first");
    Path driverSocket = Files.createDirectories(root.resolve("plugins/js.example.com")).resolve("csi.sock");
    Process p = new ProcessBuilder("node", "registrar-driver.js", registry.toString(), driverSocket.toString(), "js.example.com", "js-node")
        .directory(nodeDir.toFile()).redirectErrorStream(true).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
      assertEquals("listening", out.readLine());
      RegistrationReport report = Await.result(doctor.examine(registry));
      assertTrue(report.healthy(), report::toString);
      assertTrue(texts(only(report)).contains("max volumes per node 3"), texts(only(report)));
    } finally {
      p.toHandle().destroy();
      assertTrue(p.waitFor(10, TimeUnit.SECONDS));
      p.destroyForcibly();
    }
  }

  private static SocketReport only(RegistrationReport report) {
    assertEquals(1, report.sockets().size(), report.toString());
    return report.sockets().get(0);
  }

  private static String texts(SocketReport s) {
    return String.join("\n", s.findings().stream().map(Finding::text).toList());
  }

  private static String problems(SocketReport s) {
    return String.join("\n", s.findings().stream().filter(Finding::isProblem).map(Finding::text).toList());
  }

  /** A socket file that was bound and whose listener is gone, as a killed registrar leaves it. */
  private static Path deadSocket(Path path) throws IOException {
    try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.bind(UnixDomainSocketAddress.of(path));
    }
    return path;
  }

  private Map<String, Object> listing() throws IOException {
    Map<String, Object> m = new TreeMap<>();
    try (Stream<Path> files = Files.walk(registry)) {
      for (Path f : files.toList()) {
        m.put(registry.relativize(f).toString(), List.of(Files.readAttributes(f, "unix:ino,mode,ctime", LinkOption.NOFOLLOW_LINKS)));
      }
    }
    return m;
  }
}
