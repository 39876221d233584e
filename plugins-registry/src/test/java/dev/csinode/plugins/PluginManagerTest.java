package dev.csinode.plugins;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.grpc.SocketFiles;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.testing.Await;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PluginManagerTest {
  static final Duration WAIT = Duration.ofSeconds(20);
  @TempDir Path root;
  Vertx vertx;
  DriverRegistry registry;
  PrometheusRegistry metrics;
  PluginManager manager;
  final List<AutoCloseable> peers = new ArrayList<>();

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    registry = new DriverRegistry();
    metrics = new PrometheusRegistry();
    manager = new PluginManager(vertx, root, registry, metrics, PluginManager.Options.defaults()
        .withBackoff(Duration.ofMillis(50), Duration.ofMillis(400)).withProbeInterval(Duration.ofMillis(100)));
    Await.result(manager.start());
  }

  @AfterEach
  void stop() throws Exception {
    Await.result(manager.stop());
    for (AutoCloseable p : peers) {
      p.close();
    }
    Await.result(vertx.close());
  }

  Path reg(String name) {
    return root.resolve("plugins_registry").resolve(name + "-reg.sock");
  }

  TestCsiDriver driver(String name) {
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins").resolve(name).resolve("csi.sock"), name, "node-" + name);
    peers.add(d);
    return d;
  }

  TestRegistrationPlugin plugin(Path socket, PluginInfo info) {
    TestRegistrationPlugin p = new TestRegistrationPlugin(vertx, socket, info, false);
    peers.add(p);
    return p;
  }

  PluginStatus statusOf(Path socket) {
    return manager.status().stream().filter(s -> s.socketPath().equals(socket.toString())).findFirst().orElse(null);
  }

  void awaitRefused(TestRegistrationPlugin p, String reasonPart) {
    Eventually.holds(WAIT, () -> p.lastNotification() != null, () -> "no NotifyRegistrationStatus; status " + manager.status());
    assertFalse(p.lastNotification().getPluginRegistered());
    assertTrue(p.lastNotification().getError().contains(reasonPart), p.lastNotification().getError());
    Eventually.holds(WAIT, () -> "failed".equals(statusOf(p.server.path()).state()), () -> "status " + manager.status());
    PluginStatus s = statusOf(p.server.path());
    assertTrue(s.reason().contains(reasonPart), s.reason());
    assertTrue(registry.all().isEmpty());
  }

  @Test
  void createsTheRegistryDirectory0750() throws Exception {
    assertEquals("rwxr-x---", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(root.resolve("plugins_registry"))));
  }

  @Test
  void registersACsiDriverAndNotifiesIt() {
    TestCsiDriver d = driver("a.example.com");
    TestRegistrationPlugin p = plugin(reg("a.example.com"), TestRegistrationPlugin.csi("a.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("a.example.com").isPresent(), () -> "status " + manager.status());
    RegisteredDriver r = registry.get("a.example.com").orElseThrow();
    assertEquals("unix://" + d.endpoint(), r.endpoint());
    assertEquals("node-a.example.com", r.nodeId());
    assertEquals(16, r.maxVolumesPerNode());
    assertEquals("z1", r.topology().get("zone"));
    assertTrue(r.hasNodeCapability("STAGE_UNSTAGE_VOLUME"));
    assertTrue(r.healthy());
    Eventually.holds(WAIT, () -> p.lastNotification() != null, () -> "not notified");
    assertTrue(p.lastNotification().getPluginRegistered());
    assertEquals("registered", statusOf(p.server.path()).state());
    String text = scrape();
    assertTrue(text.contains("plugin_manager_total_plugins{socket_path=\"" + reg("a.example.com") + "\",state=\"actual_state_of_world\"} 1.0"), text);
    assertTrue(text.contains("plugin_manager_total_plugins{socket_path=\"" + reg("a.example.com") + "\",state=\"desired_state_of_world\"} 1.0"), text);
  }

  @Test
  void anEmptyEndpointMeansTheRegistrationSocketItself() {
    // A plugin that serves CSI on its registration socket too.
    Path socket = reg("self.example.com");
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins/self/csi.sock"), "self.example.com", "n");
    peers.add(d);
    TestRegistrationPlugin p = plugin(socket, TestRegistrationPlugin.csi("self.example.com", ""));
    Eventually.holds(WAIT, () -> p.lastNotification() != null, () -> "not notified");
    // The registration socket does not serve CSI, so the CSI handler's GetPluginInfo fails there: proof it was used.
    assertFalse(p.lastNotification().getPluginRegistered());
    assertTrue(p.lastNotification().getError().contains("GetPluginInfo on unix://" + socket), p.lastNotification().getError());
  }

  @Test
  void otherPluginTypesAreRefused() {
    TestRegistrationPlugin p = plugin(reg("gpu"), PluginInfo.newBuilder().setType("DevicePlugin").setName("gpu.example.com")
        .addSupportedVersions("v1beta1").build());
    awaitRefused(p, "DevicePlugin plugins are not handled by this agent");
    TestRegistrationPlugin dra = plugin(reg("dra"), PluginInfo.newBuilder().setType("DRAPlugin").setName("dra.example.com").build());
    awaitRefused(dra, "DRAPlugin plugins are not handled by this agent");
  }

  @Test
  void unsupportedVersionsAreRefused() {
    TestCsiDriver d = driver("old.example.com");
    TestRegistrationPlugin p = plugin(reg("old"), TestRegistrationPlugin.csi("old.example.com", d.endpoint(), "0.3.0", "2.0.0"));
    awaitRefused(p, "needs a 1.x version");
  }

  @Test
  void invalidNamesAreRefused() {
    TestRegistrationPlugin p = plugin(reg("bad"), TestRegistrationPlugin.csi("bad_name!", "/nowhere"));
    awaitRefused(p, "not a valid CSI driver name");
    TestRegistrationPlugin longName = plugin(reg("long"), TestRegistrationPlugin.csi("a".repeat(64), "/nowhere"));
    awaitRefused(longName, "not a valid CSI driver name");
  }

  @Test
  void aNameMismatchBetweenGetInfoAndGetPluginInfoIsRefused() {
    TestCsiDriver d = driver("real.example.com");
    TestRegistrationPlugin p = plugin(reg("claimed"), TestRegistrationPlugin.csi("claimed.example.com", d.endpoint()));
    awaitRefused(p, "answers 'real.example.com'");
    assertTrue(p.lastNotification().getError().contains("claimed.example.com"));
  }

  @Test
  void aMissingEndpointIsExplained() {
    TestRegistrationPlugin p = plugin(reg("moved"), TestRegistrationPlugin.csi("moved.example.com", "/var/lib/other-kubelet/plugins/moved/csi.sock"));
    awaitRefused(p, "different kubelet root directory");
  }

  @Test
  void aSocketNobodyServesIsReportedStaleAndLeftInPlace() throws Exception {
    Path socket = reg("ghost");
    Files.createDirectories(socket.getParent());
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(socket));
    }
    manager.status(); // the watcher sees the create event
    Eventually.holds(WAIT, () -> statusOf(socket) != null && "stale".equals(statusOf(socket).state()), () -> "status " + manager.status());
    assertTrue(statusOf(socket).reason().contains("nothing listens on " + socket), statusOf(socket).reason());
    assertTrue(statusOf(socket).nextRetryAtMillis() > 0);
    assertTrue(SocketFiles.isSocket(socket), "the agent never deletes another program's socket");
    // The plugin comes back: it replaces its stale socket and serves; the agent registers it.
    TestCsiDriver d = driver("ghost.example.com");
    Files.delete(socket);
    plugin(socket, TestRegistrationPlugin.csi("ghost.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("ghost.example.com").isPresent(), () -> "status " + manager.status());
  }

  @Test
  void aFailedRegistrationIsRetriedUntilTheDriverComesUp() {
    Path endpoint = root.resolve("plugins/late.example.com/csi.sock");
    TestRegistrationPlugin p = plugin(reg("late"), TestRegistrationPlugin.csi("late.example.com", endpoint.toString()));
    Eventually.holds(WAIT, () -> p.notifications.size() >= 2, () -> "expected repeated attempts, got " + p.notifications);
    assertTrue(p.notifications.stream().noneMatch(n -> n.getPluginRegistered()));
    driver("late.example.com");
    Eventually.holds(WAIT, () -> registry.get("late.example.com").isPresent(), () -> "status " + manager.status());
    Eventually.holds(WAIT, () -> p.lastNotification().getPluginRegistered(), () -> "last " + p.lastNotification());
  }

  @Test
  void aHangingGetInfoDoesNotHoldUpOtherPlugins() {
    TestRegistrationPlugin hang = new TestRegistrationPlugin(vertx, reg("hang"), TestRegistrationPlugin.csi("hang.example.com", "/x"), true);
    peers.add(hang);
    for (int i = 0; i < 5; i++) {
      TestCsiDriver d = driver("d" + i + ".example.com");
      plugin(reg("d" + i), TestRegistrationPlugin.csi("d" + i + ".example.com", d.endpoint()));
    }
    Eventually.holds(WAIT, () -> registry.all().size() == 5, () -> "registered " + registry.all().size() + "; " + manager.status());
    Eventually.holds(WAIT, () -> statusOf(reg("hang")) != null && "failed".equals(statusOf(reg("hang")).state()), () -> "" + manager.status());
    assertTrue(statusOf(reg("hang")).reason().contains("DEADLINE_EXCEEDED"), statusOf(reg("hang")).reason());
  }

  @Test
  void fiftyDriversRegisterConcurrently() {
    for (int i = 0; i < 50; i++) {
      TestCsiDriver d = driver("drv" + i + ".example.com");
      plugin(reg("drv" + i), TestRegistrationPlugin.csi("drv" + i + ".example.com", d.endpoint()));
    }
    Eventually.holds(WAIT, () -> registry.all().size() == 50, () -> "registered " + registry.all().size());
    Eventually.holds(WAIT, () -> manager.status().stream().filter(s -> s.state().equals("registered")).count() == 50,
        () -> "" + manager.status());
  }

  @Test
  void aDriverRestartDeregistersThenRegistersTheNewEndpoint() {
    TestCsiDriver d1 = new TestCsiDriver(vertx, root.resolve("plugins/r/v1/csi.sock"), "r.example.com", "n1");
    TestRegistrationPlugin p1 = new TestRegistrationPlugin(vertx, reg("r"), TestRegistrationPlugin.csi("r.example.com", d1.endpoint()), false);
    Eventually.holds(WAIT, () -> registry.get("r.example.com").isPresent(), () -> "" + manager.status());
    p1.close();
    d1.close();
    Eventually.holds(WAIT, () -> registry.get("r.example.com").isEmpty(), () -> "still registered after its socket went");
    Eventually.holds(WAIT, () -> statusOf(reg("r")) == null, () -> "" + manager.status());
    TestCsiDriver d2 = driver("r.example.com-v2");
    // same driver name, new endpoint
    TestCsiDriver d2real = new TestCsiDriver(vertx, root.resolve("plugins/r/v2/csi.sock"), "r.example.com", "n2");
    peers.add(d2real);
    plugin(reg("r"), TestRegistrationPlugin.csi("r.example.com", d2real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("r.example.com").map(r -> r.endpoint().endsWith("v2/csi.sock")).orElse(false),
        () -> "" + registry.all());
    assertEquals("n2", registry.get("r.example.com").orElseThrow().nodeId());
    assertNotNull(d2);
  }

  @Test
  void aSocketReplacedInPlaceIsANewRegistration() throws Exception {
    TestCsiDriver d = driver("swap.example.com");
    TestRegistrationPlugin p1 = new TestRegistrationPlugin(vertx, reg("swap"), TestRegistrationPlugin.csi("swap.example.com", d.endpoint()), false);
    Eventually.holds(WAIT, () -> p1.lastNotification() != null && p1.lastNotification().getPluginRegistered(), () -> "" + manager.status());
    // Replace the socket without closing the first server: a new inode at the same path. The new plugin gets its
    // own Vert.x (as its own process would): within one Vert.x, servers on one address are shared, not re-bound.
    Files.delete(reg("swap"));
    Vertx other = Vertx.vertx();
    TestRegistrationPlugin p2 = new TestRegistrationPlugin(other, reg("swap"), TestRegistrationPlugin.csi("swap.example.com", d.endpoint()), false);
    peers.add(p2);
    peers.add(() -> Await.result(other.close()));
    Eventually.holds(WAIT, () -> p2.lastNotification() != null && p2.lastNotification().getPluginRegistered(), () -> "" + manager.status());
    assertEquals(1, p1.notifications.size(), "the old instance is not contacted again");
    Await.result(p1.server.close());
  }

  /** Regression: plugins chmod their socket after binding; that changes ctime and must not look like a new socket. */
  @Test
  void aChmodOfTheSocketIsNotARestart() throws Exception {
    TestCsiDriver d = driver("chmod.example.com");
    TestRegistrationPlugin p = plugin(reg("chmod"), TestRegistrationPlugin.csi("chmod.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> p.lastNotification() != null, () -> "" + manager.status());
    long registeredAt = registry.get("chmod.example.com").orElseThrow().registeredAtMillis();
    Files.setPosixFilePermissions(reg("chmod"), java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
    Await.result(manager.rescanNow());
    Await.result(manager.rescanNow());
    assertEquals(1, p.notifications.size(), "registered once: " + p.notifications);
    assertEquals(registeredAt, registry.get("chmod.example.com").orElseThrow().registeredAtMillis());
  }

  @Test
  void hiddenNamesAndNonSocketsAreIgnoredAndSubdirectoriesWatched() throws Exception {
    TestCsiDriver d = driver("sub.example.com");
    plugin(root.resolve("plugins_registry/.hidden-reg.sock"), TestRegistrationPlugin.csi("hidden.example.com", d.endpoint()));
    Files.writeString(root.resolve("plugins_registry/notasocket-reg.sock"), "x");
    Files.createDirectories(root.resolve("plugins_registry/vendor"));
    plugin(root.resolve("plugins_registry/vendor/sub-reg.sock"), TestRegistrationPlugin.csi("sub.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("sub.example.com").isPresent(), () -> "" + manager.status());
    assertEquals(1, manager.status().size(), "only the socket in the subdirectory is a plugin: " + manager.status());
  }

  @Test
  void unhealthyAfterTwoFailedProbesAndHealthyAgain() {
    TestCsiDriver d = driver("flaky.example.com");
    plugin(reg("flaky"), TestRegistrationPlugin.csi("flaky.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("flaky.example.com").isPresent(), () -> "" + manager.status());
    d.probeFails = true;
    Eventually.holds(WAIT, () -> !registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still healthy");
    assertTrue(scrape().contains("csi_node_agent_driver_healthy{driver_name=\"flaky.example.com\"} 0.0"));
    assertEquals("registered", statusOf(reg("flaky")).state(), "health never deregisters");
    d.probeFails = false;
    Eventually.holds(WAIT, () -> registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still unhealthy");
    assertTrue(scrape().contains("csi_node_agent_driver_healthy{driver_name=\"flaky.example.com\"} 1.0"));
  }

  private String scrape() {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      new PrometheusTextFormatWriter(false).write(out, metrics.scrape());
      return out.toString();
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
