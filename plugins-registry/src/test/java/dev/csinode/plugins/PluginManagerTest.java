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
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
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
    assertEquals("rwxr-x---", PosixFilePermissions.toString(
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
    Files.setPosixFilePermissions(reg("chmod"), PosixFilePermissions.fromString("rw-rw-rw-"));
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
    List<String> available = new CopyOnWriteArrayList<>();
    DriverRegistry.Subscription subscription = registry.onAvailable(available::add);
    TestCsiDriver d = driver("flaky.example.com");
    plugin(reg("flaky"), TestRegistrationPlugin.csi("flaky.example.com", d.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("flaky.example.com").isPresent(), () -> "" + manager.status());
    assertEquals(List.of("flaky.example.com"), available, "registering makes it available");
    d.probeFails = true;
    Eventually.holds(WAIT, () -> !registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still healthy");
    assertTrue(scrape().contains("csi_node_agent_driver_healthy{driver_name=\"flaky.example.com\"} 0.0"));
    assertEquals("registered", statusOf(reg("flaky")).state(), "health never deregisters");
    Eventually.holds(WAIT, () -> statusOf(reg("flaky")).reason().contains("backend down"), () -> "" + statusOf(reg("flaky")));
    assertTrue(statusOf(reg("flaky")).reason().contains("Probe on unix://" + d.endpoint()), statusOf(reg("flaky")).reason());
    assertFalse(statusOf(reg("flaky")).driver().healthy());
    assertEquals(1, available.size(), "turning unhealthy is no availability");
    d.probeFails = false;
    Eventually.holds(WAIT, () -> registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still unhealthy");
    assertTrue(scrape().contains("csi_node_agent_driver_healthy{driver_name=\"flaky.example.com\"} 1.0"));
    assertEquals(List.of("flaky.example.com", "flaky.example.com"), available, "healthy again is available again");
    assertEquals("", statusOf(reg("flaky")).reason());
    subscription.close();
    d.probeFails = true;
    Eventually.holds(WAIT, () -> !registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still healthy");
    d.probeFails = false;
    Eventually.holds(WAIT, () -> registry.get("flaky.example.com").orElseThrow().healthy(), () -> "still unhealthy");
    assertEquals(2, available.size(), "a closed subscription hears nothing");
  }

  /** A CSI driver serving {@code name} under {@code plugins/<dir>/csi.sock}. */
  TestCsiDriver driverAt(String dir, String name) {
    TestCsiDriver d = new TestCsiDriver(vertx, root.resolve("plugins").resolve(dir).resolve("csi.sock"), name, "node-" + dir);
    peers.add(d);
    return d;
  }

  void awaitRegistered(TestRegistrationPlugin p) {
    Eventually.holds(WAIT, () -> p.lastNotification() != null && p.lastNotification().getPluginRegistered(),
        () -> "not registered: " + p.notifications + "; status " + manager.status());
  }

  void awaitConflict(TestRegistrationPlugin p) {
    Eventually.holds(WAIT, () -> statusOf(p.server.path()) != null && "conflict".equals(statusOf(p.server.path()).state()),
        () -> "no conflict for " + p.server.path() + "; status " + manager.status() + "; registry " + registry.all());
  }

  String endpointOf(String name) {
    return registry.get(name).map(RegisteredDriver::endpoint).orElse("(not registered)");
  }

  /** Regression: a second socket announcing a registered name took it over, and its departure left the name unregistered. */
  @Test
  void aSecondSocketClaimingARegisteredNameIsRefusedAndItsDepartureLeavesTheDriverAlone() throws Exception {
    TestCsiDriver real = driverAt("real", "x.example.com");
    TestRegistrationPlugin owner = plugin(reg("x"), TestRegistrationPlugin.csi("x.example.com", real.endpoint()));
    awaitRegistered(owner);
    TestCsiDriver fake = driverAt("impostor", "x.example.com");
    TestRegistrationPlugin impostor = new TestRegistrationPlugin(vertx, reg("impostor"),
        TestRegistrationPlugin.csi("x.example.com", fake.endpoint()), false);
    Eventually.holds(WAIT, () -> impostor.lastNotification() != null, () -> "impostor not answered; status " + manager.status());
    assertFalse(impostor.lastNotification().getPluginRegistered(), "an equal version must not replace a registered driver");
    String told = impostor.lastNotification().getError();
    assertTrue(told.contains(reg("x").toString()) && told.contains(reg("impostor").toString()), told);
    awaitConflict(impostor);
    PluginStatus refused = statusOf(reg("impostor"));
    assertEquals("x.example.com", refused.driverName());
    assertTrue(refused.reason().contains(reg("x").toString()) && refused.reason().contains(reg("impostor").toString()), refused.reason());
    assertEquals("unix://" + real.endpoint(), endpointOf("x.example.com"));
    assertEquals("registered", statusOf(reg("x")).state());

    // The impostor's socket goes: the driver stays registered from its own socket, status consistent with it.
    impostor.close();
    Eventually.holds(WAIT, () -> statusOf(reg("impostor")) == null, () -> "" + manager.status());
    Await.result(manager.rescanNow());
    assertEquals("unix://" + real.endpoint(), endpointOf("x.example.com"));
    assertEquals("registered", statusOf(reg("x")).state());
    assertEquals("unix://" + real.endpoint(), statusOf(reg("x")).driver().endpoint(), "a registered row has its endpoint");
    assertEquals(1, owner.notifications.size(), "the registered plugin is not contacted again: " + owner.notifications);
  }

  @Test
  void whenTheRegisteredSocketGoesAServedSocketRefusedForTheSameNameIsRegistered() {
    TestCsiDriver first = driverAt("first", "y.example.com");
    TestRegistrationPlugin owner = new TestRegistrationPlugin(vertx, reg("y"), TestRegistrationPlugin.csi("y.example.com", first.endpoint()), false);
    awaitRegistered(owner);
    TestCsiDriver second = driverAt("second", "y.example.com");
    TestRegistrationPlugin waiting = plugin(reg("y-second"), TestRegistrationPlugin.csi("y.example.com", second.endpoint()));
    awaitConflict(waiting);
    assertEquals("unix://" + first.endpoint(), endpointOf("y.example.com"));
    owner.close();
    Eventually.holds(WAIT, () -> endpointOf("y.example.com").equals("unix://" + second.endpoint()), () -> "registry " + registry.all()
        + "; status " + manager.status());
    awaitRegistered(waiting);
    assertEquals("registered", statusOf(reg("y-second")).state());
  }

  @Test
  void aStrictlyHigherVersionReplacesTheDriverWhichComesBackWhenItGoes() {
    TestCsiDriver v1 = driverAt("v1", "z.example.com");
    TestRegistrationPlugin older = plugin(reg("z"), TestRegistrationPlugin.csi("z.example.com", v1.endpoint(), "1.0.0"));
    awaitRegistered(older);
    TestCsiDriver v2 = driverAt("v2", "z.example.com");
    TestRegistrationPlugin newer = new TestRegistrationPlugin(vertx, reg("z-new"),
        TestRegistrationPlugin.csi("z.example.com", v2.endpoint(), "1.0.0", "1.2.0"), false);
    awaitRegistered(newer);
    assertEquals("unix://" + v2.endpoint(), endpointOf("z.example.com"));
    awaitConflict(older);
    assertTrue(statusOf(reg("z")).reason().contains(reg("z-new").toString()), statusOf(reg("z")).reason());
    // A lower or equal version is still refused while the newer one holds the name.
    TestRegistrationPlugin third = plugin(reg("z-third"), TestRegistrationPlugin.csi("z.example.com", v1.endpoint(), "1.2.0"));
    awaitConflict(third);
    newer.close();
    Eventually.holds(WAIT, () -> endpointOf("z.example.com").equals("unix://" + v1.endpoint()), () -> "registry " + registry.all()
        + "; status " + manager.status());
    Eventually.holds(WAIT, () -> manager.status().stream().filter(s -> s.state().equals("registered")).count() == 1
        && manager.status().stream().filter(s -> s.state().equals("conflict")).count() == 1, () -> "" + manager.status());
  }

  /**
   * The registered socket replaced in place (a new instance renamed over it, so the path never lacks a socket): the
   * new instance takes the name over; a refused socket waiting for the name is not asked meanwhile.
   */
  @Test
  void theRegisteredSocketReplacedInPlaceKeepsTheNameFromAWaitingConflict() throws Exception {
    TestCsiDriver real = driverAt("w-real", "w.example.com");
    plugin(reg("w"), TestRegistrationPlugin.csi("w.example.com", real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("w.example.com").isPresent(), () -> "" + manager.status());
    TestCsiDriver other = driverAt("w-other", "w.example.com");
    TestRegistrationPlugin waiting = plugin(reg("w-other"), TestRegistrationPlugin.csi("w.example.com", other.endpoint()));
    awaitConflict(waiting);
    assertEquals(1, waiting.getInfoCalls.get());
    Vertx second = Vertx.vertx(); // its own process, as a restarted registrar
    peers.add(() -> Await.result(second.close()));
    Path tmp = root.resolve("plugins_registry/.w-reg.sock.new");
    TestRegistrationPlugin restarted = new TestRegistrationPlugin(second, tmp, TestRegistrationPlugin.csi("w.example.com", real.endpoint()), false);
    Files.move(tmp, reg("w"), StandardCopyOption.ATOMIC_MOVE);
    awaitRegistered(restarted);
    assertEquals("unix://" + real.endpoint(), endpointOf("w.example.com"));
    assertEquals(1, waiting.getInfoCalls.get(), "the waiting socket was not asked: the same path re-registered");
    assertEquals("conflict", statusOf(reg("w-other")).state());
    assertEquals("registered", statusOf(reg("w")).state());
  }

  /**
   * Regression: the registered socket is re-created by a restarting registrar that does not answer yet (its socket
   * exists before it serves). Its first attempts fail; a refused socket waiting for the name must not take it
   * meanwhile, and the restarted registrar registers once it answers. Before, the re-created socket was first in
   * line for one attempt only, then the waiting socket registered and the registrar was refused as a conflict.
   */
  @Test
  void aRestartedRegistrarThatAnswersLateKeepsTheNameFromAWaitingConflict() throws Exception {
    TestCsiDriver real = driverAt("r-real", "r.example.com");
    plugin(reg("r"), TestRegistrationPlugin.csi("r.example.com", real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("r.example.com").isPresent(), () -> "" + manager.status());
    TestCsiDriver other = driverAt("r-other", "r.example.com");
    TestRegistrationPlugin waiting = plugin(reg("r-other"), TestRegistrationPlugin.csi("r.example.com", other.endpoint()));
    awaitConflict(waiting);
    Vertx second = Vertx.vertx(); // its own process, as a restarted registrar
    peers.add(() -> Await.result(second.close()));
    Path tmp = root.resolve("plugins_registry/.r-reg.sock.new");
    TestRegistrationPlugin restarted = new TestRegistrationPlugin(second, tmp, TestRegistrationPlugin.csi("r.example.com", real.endpoint()),
        false, false);
    Files.move(tmp, reg("r"), StandardCopyOption.ATOMIC_MOVE);
    // Attempts of the restarted socket fail (GetInfo times out); after each, the waiting socket must still wait.
    // Its state changes on the manager's context together with the failure, so each snapshot shows both.
    Set<Long> failedAttempts = new HashSet<>();
    Eventually.holds(WAIT, () -> {
      List<PluginStatus> now = manager.status();
      PluginStatus heir = now.stream().filter(s -> s.socketPath().equals(reg("r").toString())).findFirst().orElseThrow();
      PluginStatus other2 = now.stream().filter(s -> s.socketPath().equals(reg("r-other").toString())).findFirst().orElseThrow();
      if (heir.state().equals("failed") || heir.state().equals("stale")) {
        assertEquals("conflict", other2.state(), "the waiting socket took its turn while the holder's path retries: " + now);
        failedAttempts.add(heir.nextRetryAtMillis());
      }
      return failedAttempts.size() >= 3;
    }, () -> "attempts of the restarted socket seen failing: " + failedAttempts.size() + "; status " + manager.status());
    assertTrue(registry.get("r.example.com").isEmpty(), "nobody holds the name meanwhile: " + registry.all());
    assertEquals(1, waiting.getInfoCalls.get(), "the waiting socket was not asked again");
    assertTrue(restarted.getInfoCalls.get() >= 3, "" + restarted.getInfoCalls.get());

    restarted.answerGetInfo();
    awaitRegistered(restarted);
    assertEquals("unix://" + real.endpoint(), endpointOf("r.example.com"));
    assertEquals("registered", statusOf(reg("r")).state());
    assertEquals("conflict", statusOf(reg("r-other")).state());
    assertEquals(1, waiting.getInfoCalls.get());
  }

  /** The re-created socket keeps its place in line only while it may still be the holder: once it goes, the waiting socket registers. */
  @Test
  void aRestartedRegistrarThatGoesLetsTheWaitingConflictRegister() throws Exception {
    TestCsiDriver real = driverAt("g-real", "g.example.com");
    plugin(reg("g"), TestRegistrationPlugin.csi("g.example.com", real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("g.example.com").isPresent(), () -> "" + manager.status());
    TestCsiDriver other = driverAt("g-other", "g.example.com");
    TestRegistrationPlugin waiting = plugin(reg("g-other"), TestRegistrationPlugin.csi("g.example.com", other.endpoint()));
    awaitConflict(waiting);
    Vertx second = Vertx.vertx();
    peers.add(() -> Await.result(second.close()));
    Path tmp = root.resolve("plugins_registry/.g-reg.sock.new");
    TestRegistrationPlugin restarted = new TestRegistrationPlugin(second, tmp, TestRegistrationPlugin.csi("g.example.com", real.endpoint()),
        false, false);
    Files.move(tmp, reg("g"), StandardCopyOption.ATOMIC_MOVE);
    Eventually.holds(WAIT, () -> restarted.getInfoCalls.get() >= 1 && "failed".equals(statusOf(reg("g")).state()),
        () -> "" + manager.status());
    restarted.close();
    Files.delete(reg("g")); // it served the socket under its temporary name: the file at the path is removed here
    Eventually.holds(WAIT, () -> endpointOf("g.example.com").equals("unix://" + other.endpoint()), () -> "registry " + registry.all()
        + "; status " + manager.status());
    awaitRegistered(waiting);
  }

  /**
   * A re-created socket that announces another driver (whose registration then fails) does not keep the old name
   * from the waiting socket.
   */
  @Test
  void aReCreatedSocketAnnouncingAnotherDriverLetsTheWaitingConflictRegister() throws Exception {
    TestCsiDriver real = driverAt("a-real", "a.example.com");
    plugin(reg("a"), TestRegistrationPlugin.csi("a.example.com", real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("a.example.com").isPresent(), () -> "" + manager.status());
    TestCsiDriver other = driverAt("a-other", "a.example.com");
    TestRegistrationPlugin waiting = plugin(reg("a-other"), TestRegistrationPlugin.csi("a.example.com", other.endpoint()));
    awaitConflict(waiting);
    Vertx second = Vertx.vertx();
    peers.add(() -> Await.result(second.close()));
    Path tmp = root.resolve("plugins_registry/.a-reg.sock.new");
    TestCsiDriver mismatched = driverAt("a-b", "c.example.com"); // the registration fails after GetInfo: GetPluginInfo names another driver
    new TestRegistrationPlugin(second, tmp, TestRegistrationPlugin.csi("b.example.com", mismatched.endpoint()), false);
    Files.move(tmp, reg("a"), StandardCopyOption.ATOMIC_MOVE);
    Eventually.holds(WAIT, () -> endpointOf("a.example.com").equals("unix://" + other.endpoint()), () -> "registry " + registry.all()
        + "; status " + manager.status());
    awaitRegistered(waiting);
    assertNotEquals("registered", statusOf(reg("a")).state());
  }

  /** Sockets claiming a registered name, created and removed in quick succession, never touch the registered driver. */
  @Test
  void quickClaimsOfARegisteredNameNeverTouchIt() throws Exception {
    TestCsiDriver real = driverAt("q-real", "q.example.com");
    plugin(reg("q"), TestRegistrationPlugin.csi("q.example.com", real.endpoint()));
    Eventually.holds(WAIT, () -> registry.get("q.example.com").isPresent(), () -> "" + manager.status());
    List<String> changes = new CopyOnWriteArrayList<>();
    registry.onChange(name -> changes.add(name + " -> " + endpointOf(name)));
    TestCsiDriver fake = driverAt("q-fake", "q.example.com");
    for (int i = 0; i < 10; i++) {
      TestRegistrationPlugin claim = new TestRegistrationPlugin(vertx, reg("q-claim"), TestRegistrationPlugin.csi("q.example.com", fake.endpoint()), false);
      if (i % 2 == 0) {
        Eventually.holds(WAIT, () -> claim.lastNotification() != null, () -> "" + manager.status());
      }
      claim.close();
    }
    Eventually.holds(WAIT, () -> statusOf(reg("q-claim")) == null, () -> "" + manager.status());
    Await.result(manager.rescanNow());
    assertEquals("unix://" + real.endpoint(), endpointOf("q.example.com"));
    assertEquals(List.of(), changes, "the registered driver never changed");
  }

  private String scrape() {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      new PrometheusTextFormatWriter(false).write(out, metrics.scrape());
      return out.toString();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
