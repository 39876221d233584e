package dev.csinode.simulator.proxy;

import static dev.csinode.simulator.proxy.GrpcJsPeer.stage;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.MountTable;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy between a grpc-js node and a grpc-js driver (an independent gRPC stack on both sides): what passes through
 * unchanged, what each fault does as the node sees it, which calls a rule picks, and what the trace records.
 */
class FaultProxyGrpcJsTest {
  @TempDir Path dir;
  Vertx vertx;
  Trace trace;
  GrpcJsPeer driver;
  GrpcJsPeer node;
  FaultProxy proxy;
  final BlockingQueue<CsiCall> finished = new LinkedBlockingQueue<>();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    trace = new Trace();
    driver = GrpcJsPeer.driver(dir.resolve("driver.sock"));
  }

  void startProxy(FaultRules rules, FaultProxy.Checks checks) throws Exception {
    proxy = await(FaultProxy.start(vertx, new UnixEndpoint(dir.resolve("proxy.sock")), new UnixEndpoint(dir.resolve("driver.sock")),
        rules, trace, checks, finished::add));
    node = GrpcJsPeer.node(dir.resolve("proxy.sock"));
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
    if (proxy != null) {
      await(proxy.close());
      assertFalse(Files.exists(dir.resolve("proxy.sock")), "the proxy left its socket behind");
    }
    driver.close();
    await(vertx.close());
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  static FaultRule rule(String name, String method, String volume, FaultAction action, String delay, String code, String message) {
    return new FaultRule(name, method, volume, null, null, null, action, delay, code, message);
  }

  /** The trace entry the proxy recorded for the node's call (not a probe) on this method and volume. */
  CsiCall recorded(String method, String volumeId) throws Exception {
    while (true) {
      CsiCall c = finished.poll(60, TimeUnit.SECONDS);
      assertNotNull(c, "no call " + method + " " + volumeId + " was recorded; trace: " + trace.calls());
      if (!c.probe() && c.method().equals(method) && volumeId.equals(c.volumeId())) {
        return c;
      }
    }
  }

  @Test
  void forwardsAnswersStatusesMetadataDeadlinesAndUnknownMethodsUnchanged() throws Exception {
    startProxy(FaultRules.none(), FaultProxy.Checks.none());

    JsonNode info = node.call(GrpcJsPeer.csi("Identity", "GetPluginInfo", "{}", 5000));
    assertEquals(0, info.get("code").asInt(), info.toString());
    assertEquals("proxy-peer.example.com", info.at("/response/name").asText());
    assertEquals("1.2.3", info.at("/response/vendor_version").asText());
    assertEquals("grpc-js", info.at("/response/manifest/stack").asText());

    var getInfo = GrpcJsPeer.csi("Node", "NodeGetInfo", "{}", 5000);
    getInfo.putObject("metadata").put("x-node", "n1");
    JsonNode nodeInfo = node.call(getInfo);
    assertEquals("js-node:n1", nodeInfo.at("/response/node_id").asText(), "the node's metadata reaches the driver");
    assertEquals(5, nodeInfo.at("/response/max_volumes_per_node").asInt());
    assertEquals("h1", nodeInfo.at("/trailers/x-driver-header").asText(), nodeInfo.toString());
    assertEquals("t1", nodeInfo.at("/trailers/x-driver-trailer").asText(), nodeInfo.toString());

    JsonNode notFound = node.call(stage("status-5-v 1", 5000));
    assertEquals(5, notFound.get("code").asInt(), notFound.toString());
    assertEquals("driver says: status-5-v 1 is 100% ünknown", notFound.get("details").asText());
    JsonNode internal = node.call(stage("status-13-x", 5000));
    assertEquals(13, internal.get("code").asInt(), internal.toString());

    byte[] bytes = {0, 1, 2, (byte) 0xff, 'z'};
    var echo = GrpcJsPeer.JSON.createObjectNode().put("raw", "/test.Echo/Echo")
        .put("base64", Base64.getEncoder().encodeToString(bytes)).put("deadlineMs", 5000);
    JsonNode echoed = node.call(echo);
    assertEquals(0, echoed.get("code").asInt(), echoed.toString());
    assertArrayEquals(new byte[] {'z', (byte) 0xff, 2, 1, 0}, Base64.getDecoder().decode(echoed.at("/response/base64").asText()));

    node.call(stage("with-deadline", 3000));
    JsonNode served;
    do {
      served = driver.nextServed();
    } while (!served.get("volume_id").asText().equals("with-deadline"));
    assertTrue(served.get("deadlineMs").isNumber(), "the driver got no deadline: " + served);
    assertTrue(served.get("deadlineMs").asLong() <= 3000 && served.get("deadlineMs").asLong() > 0, served.toString());

    CsiCall recorded = recorded("NodeStageVolume", "status-5-v 1");
    assertEquals("NOT_FOUND", recorded.code());
    assertEquals("driver says: status-5-v 1 is 100% ünknown", recorded.message());
    assertEquals("/var/lib/kubelet/plugins/kubernetes.io/csi/proxy-peer.example.com/status-5-v 1/globalmount", recorded.stagingPath());
    assertNull(recorded.targetPath());
    assertNull(recorded.fault());
    assertTrue(recorded.endMicros() >= recorded.startMicros());
    List<String> methods = trace.calls().stream().map(CsiCall::method).toList();
    assertEquals(List.of("GetPluginInfo", "NodeGetInfo", "NodeStageVolume", "NodeStageVolume", "test.Echo/Echo", "NodeStageVolume"),
        methods, "CSI methods by short name, others by their full gRPC name");
    assertTrue(trace.calls().stream().noneMatch(c -> String.valueOf(c).contains("hunter2")));
  }

  @Test
  void delayForwardsAfterTheDelay() throws Exception {
    startProxy(FaultRules.of(List.of(rule("slow-stage", "NodeStageVolume", null, FaultAction.DELAY, "400ms", null, null)), 1),
        FaultProxy.Checks.none());
    JsonNode a = node.call(stage("d1", 5000));
    assertEquals(0, a.get("code").asInt(), a.toString());
    assertTrue(a.get("elapsedMs").asDouble() >= 400, "answered after " + a.get("elapsedMs") + " ms, before the delay");
    driver.assertServedNext("NodeStageVolume", "d1");
    CsiCall c = recorded("NodeStageVolume", "d1");
    assertEquals("slow-stage", c.fault());
    assertEquals("OK", c.code());
    assertTrue(c.endMicros() - c.startMicros() >= 400_000);
  }

  @Test
  void failAnswersWithTheCodeAndNeverReachesTheDriver() throws Exception {
    startProxy(FaultRules.of(List.of(rule("no-stage", "NodeStageVolume", "f*", FaultAction.FAIL, null, "RESOURCE_EXHAUSTED",
        "injected: out of ¥ 100%")), 1), FaultProxy.Checks.none());
    JsonNode a = node.call(stage("f1", 5000));
    assertEquals(8, a.get("code").asInt(), a.toString());
    assertEquals("injected: out of ¥ 100%", a.get("details").asText());
    assertEquals(0, node.call(stage("g1", 5000)).get("code").asInt());
    driver.assertServedNext("NodeStageVolume", "g1"); // f1 never reached it
    CsiCall c = recorded("NodeStageVolume", "f1");
    assertEquals("RESOURCE_EXHAUSTED", c.code());
    assertEquals("no-stage", c.fault());
  }

  @Test
  void hangHoldsTheCallUntilTheNodesDeadline() throws Exception {
    startProxy(FaultRules.of(List.of(rule("stuck", "NodeStageVolume", "h1", FaultAction.HANG, null, null, null)), 1),
        FaultProxy.Checks.none());
    warmUp();
    JsonNode a = node.call(stage("h1", 600));
    assertEquals(4, a.get("code").asInt(), a.toString());
    assertTrue(a.get("elapsedMs").asDouble() >= 600, a.toString());
    assertEquals(0, node.call(stage("h2", 5000)).get("code").asInt());
    driver.assertServedNext("NodeStageVolume", "h2");
    CsiCall c = recorded("NodeStageVolume", "h1");
    assertEquals("DEADLINE_EXCEEDED", c.code());
    assertEquals("stuck", c.fault());
  }

  @Test
  void closingTheProxyEndsTheCallsItHolds() throws Exception {
    startProxy(FaultRules.of(List.of(rule("stuck", "NodeStageVolume", null, FaultAction.HANG, null, null, null)), 1),
        FaultProxy.Checks.none());
    warmUp();
    var held = node.send(stage("held", 0));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (proxy.rules().applied("stuck") == 0) { // the rule applies when the call has arrived
      assertTrue(System.nanoTime() < deadline, "the call never reached the proxy");
      Thread.onSpinWait();
    }
    await(proxy.close());
    proxy = null;
    assertFalse(Files.exists(dir.resolve("proxy.sock")), "the proxy left its socket behind");
    assertEquals(14, held.get(60, TimeUnit.SECONDS).get("code").asInt(), "the node sees UNAVAILABLE");
    assertEquals("UNAVAILABLE", recorded("NodeStageVolume", "held").code());
  }

  @Test
  void dropClosesTheNodesConnection() throws Exception {
    startProxy(FaultRules.of(List.of(rule("cut", "NodePublishVolume", null, FaultAction.DROP, null, null, null)), 1),
        FaultProxy.Checks.none());
    JsonNode a = node.call(GrpcJsPeer.csi("Node", "NodePublishVolume", "{\"volume_id\":\"p1\",\"target_path\":\"/t/p1\"}", 5000));
    assertEquals(14, a.get("code").asInt(), "the node should see UNAVAILABLE: " + a);
    assertEquals(0, node.call(stage("after-drop", 5000)).get("code").asInt(), "the node reconnects");
    driver.assertServedNext("NodeStageVolume", "after-drop");
    CsiCall c = recorded("NodePublishVolume", "p1");
    assertEquals("UNAVAILABLE", c.code());
    assertEquals("cut", c.fault());
  }

  @Test
  void loseAnswerLetsTheDriverFinishAndTellsTheNodeDeadlineExceeded() throws Exception {
    startProxy(FaultRules.of(List.of(rule("lost", "NodePublishVolume", null, FaultAction.LOSE_ANSWER, null, null, null)), 1),
        FaultProxy.Checks.none());
    JsonNode a = node.call(GrpcJsPeer.csi("Node", "NodePublishVolume",
        "{\"volume_id\":\"slow-200-l1\",\"staging_target_path\":\"/s/l1\",\"target_path\":\"/t/l1\"}", 5000));
    assertEquals(4, a.get("code").asInt(), a.toString());
    JsonNode served = driver.nextServed();
    assertEquals("NodePublishVolume", served.get("served").asText());
    assertEquals("slow-200-l1", served.get("volume_id").asText());
    assertEquals(0, served.get("code").asInt(), "the driver did the work");
    CsiCall c = recorded("NodePublishVolume", "slow-200-l1");
    assertEquals("DEADLINE_EXCEEDED", c.code());
    assertEquals("lost", c.fault());
    assertEquals("/t/l1", c.targetPath());
    assertEquals("/s/l1", c.stagingPath());
    assertTrue(c.endMicros() - c.startMicros() >= 200_000, "answered before the driver did: " + c);
  }

  @Test
  void theNodeCancellingReachesTheDriverAndIsRecorded() throws Exception {
    startProxy(FaultRules.none(), FaultProxy.Checks.none());
    warmUp();
    var call = stage("slow-30000-c1", 0);
    call.put("cancelAfterMs", 300);
    JsonNode a = node.call(call);
    assertEquals(1, a.get("code").asInt(), a.toString());
    JsonNode served = driver.nextServed();
    assertEquals("slow-30000-c1", served.get("volume_id").asText());
    assertTrue(served.path("cancelled").asBoolean(), "the driver's call was not cancelled: " + served);
    assertTrue(served.get("deadlineMs").isNull(), "no deadline was set, none must reach the driver: " + served);
    CsiCall c = recorded("NodeStageVolume", "slow-30000-c1");
    assertEquals("CANCELLED", c.code());
  }

  @Test
  void dropAlsoEndsTheOtherCallsOnTheConnection() throws Exception {
    startProxy(FaultRules.of(List.of(rule("cut", "NodeUnstageVolume", null, FaultAction.DROP, null, null, null)), 1),
        FaultProxy.Checks.none());
    warmUp();
    var slow = node.send(stage("slow-30000-other", 10000));
    driver.awaitStarted("slow-30000-other");
    JsonNode cut = node.call(GrpcJsPeer.csi("Node", "NodeUnstageVolume", "{\"volume_id\":\"u1\"}", 10000));
    assertEquals(14, cut.get("code").asInt(), cut.toString());
    JsonNode other = slow.get(60, TimeUnit.SECONDS);
    assertEquals(14, other.get("code").asInt(), "the connection closed under it: " + other);
    assertTrue(driver.nextServed().path("cancelled").asBoolean(), "the driver's side of the other call was let go");
    assertEquals("UNAVAILABLE", recorded("NodeStageVolume", "slow-30000-other").code());
  }

  @Test
  void nthCountsOnlyCallsOnMatchingVolumes() throws Exception {
    startProxy(FaultRules.of(List.of(new FaultRule("second-pvc", "NodeStageVolume", "pvc-*", 2, null, null, FaultAction.FAIL,
        null, "ABORTED", null)), 1), FaultProxy.Checks.none());
    assertEquals(List.of(0, 0, 10, 0), codes(List.of("pvc-1", "other-1", "pvc-2", "pvc-3")));
    assertEquals(1, proxy.rules().applied("second-pvc"));
    assertEquals(3, proxy.rules().seen("second-pvc"));
  }

  @Test
  void timesSpendsTheRule() throws Exception {
    startProxy(FaultRules.of(List.of(new FaultRule("twice", "*", null, null, null, 2, FaultAction.FAIL, null, "UNAVAILABLE",
        "busy")), 1), FaultProxy.Checks.none());
    assertEquals(List.of(14, 14, 0, 0), codes(List.of("t1", "t2", "t3", "t4")));
  }

  @Test
  void probabilityDrawsFromTheSeededSource() throws Exception {
    FaultRule coin = new FaultRule("coin", "NodeStageVolume", null, null, 0.5, null, FaultAction.FAIL, null, "INTERNAL", null);
    startProxy(FaultRules.of(List.of(coin), 42), FaultProxy.Checks.none());
    List<String> volumes = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      volumes.add("c" + i);
    }
    List<Integer> first = codes(volumes);
    Random draws = new Random(42);
    List<Integer> expected = volumes.stream().map(v -> draws.nextDouble() < 0.5 ? 13 : 0).toList();
    assertEquals(expected, first);
    assertTrue(first.contains(0) && first.contains(13), "seed 42 should give both outcomes: " + first);
    proxy.rules(FaultRules.of(List.of(coin), 42));
    assertEquals(first, codes(volumes), "the same seed gives the same faults");
  }

  @Test
  void rulesReplacedWhileRunningApplyToTheNextCall() throws Exception {
    startProxy(FaultRules.none(), FaultProxy.Checks.none());
    assertEquals(List.of(0), codes(List.of("r1")));
    proxy.rules(proxy.rules().with(rule("now-failing", "NodeStageVolume", null, FaultAction.FAIL, null, "UNAVAILABLE", null)));
    assertEquals(List.of(14), codes(List.of("r2")));
    proxy.rules(proxy.rules().without("now-failing"));
    assertEquals(List.of(0), codes(List.of("r3")));
  }

  @Test
  void rulesFileChangesReloadWhileRunningAndABadFileIsRefused() throws Exception {
    Path file = dir.resolve("rules.yaml");
    Files.writeString(file, "rules: []\n");
    startProxy(FaultRules.load(file, 3), FaultProxy.Checks.none());
    BlockingQueue<RulesFileWatcher.Reload> reloads = new LinkedBlockingQueue<>();
    try (RulesFileWatcher watcher = RulesFileWatcher.start(file, proxy, reloads::add)) {
      assertEquals(List.of(0), codes(List.of("w1")));
      Path next = dir.resolve("rules.yaml.new");
      Files.writeString(next, """
          rules:
            - name: reloaded
              method: NodeStageVolume
              action: fail
              code: PERMISSION_DENIED
          """);
      Files.move(next, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      RulesFileWatcher.Reload r = reloads.poll(60, TimeUnit.SECONDS);
      assertNotNull(r, "no reload after the file changed");
      assertNull(r.refused());
      assertEquals(List.of(7), codes(List.of("w2")));

      Files.writeString(file, "rules:\n  - name: bad\n    method: NodeStageVolume\n    action: explode\n");
      RulesFileWatcher.Reload refused;
      do {
        refused = reloads.poll(60, TimeUnit.SECONDS);
        assertNotNull(refused, "the bad file was neither loaded nor refused");
      } while (refused.refused() == null || !refused.refused().getMessage().contains("explode"));
      // (an in-place write may show the file empty first: refused too, with the rules kept)
      assertTrue(refused.refused().getMessage().contains("rules.yaml:4: rule bad: action: 'explode' is not one of"),
          refused.refused().getMessage());
      assertTrue(proxy.rules().rule("reloaded").isPresent(), "the old rules stay");
      assertEquals(List.of(7), codes(List.of("w3")));
      assertEquals(2, proxy.rules().applied("reloaded"));
    }
  }

  @Test
  void traceRecordsProbesAndWhetherThePublishedTargetIsMounted() throws Exception {
    Set<Path> mounted = Set.of(Path.of("/t/mounted"));
    MountPoints mounts = new MountPoints() { // test double: these paths are "mounted"
      @Override
      public boolean isMountPoint(Path path) {
        return mounted.contains(path);
      }

      @Override
      public MountTable table() {
        return MountTable.parse("");
      }
    };
    startProxy(FaultRules.none(), new FaultProxy.Checks(mounts, true));
    assertEquals(0, node.call(stage("once-a", 5000)).get("code").asInt());
    assertEquals(0, node.call(GrpcJsPeer.csi("Node", "NodePublishVolume",
        "{\"volume_id\":\"v-m\",\"staging_target_path\":\"/s/v-m\",\"target_path\":\"/t/mounted\"}", 5000)).get("code").asInt());
    assertEquals(0, node.call(GrpcJsPeer.csi("Node", "NodePublishVolume",
        "{\"volume_id\":\"v-n\",\"target_path\":\"/t/not-mounted\"}", 5000)).get("code").asInt());
    assertEquals(0, node.call(GrpcJsPeer.csi("Node", "NodeUnpublishVolume",
        "{\"volume_id\":\"v-n\",\"target_path\":\"/t/not-mounted\"}", 5000)).get("code").asInt());

    List<CsiCall> calls = trace.calls();
    assertEquals(7, calls.size(), calls.toString());
    CsiCall stage = calls.get(0);
    CsiCall stageProbe = calls.get(1);
    assertEquals("NodeStageVolume once-a OK false", stage.method() + " " + stage.volumeId() + " " + stage.code() + " " + stage.probe());
    assertNull(stage.mountedAfter());
    assertTrue(stageProbe.probe());
    assertEquals("ALREADY_EXISTS", stageProbe.code(), "the driver's NodeStage is not idempotent for once-*");
    assertEquals(stage.stagingPath(), stageProbe.stagingPath());
    assertTrue(stageProbe.seq() > stage.seq());
    assertTrue(stageProbe.startMicros() >= stage.startMicros() && stageProbe.endMicros() <= stage.endMicros(),
        "the probe ran before the node had its answer");
    assertEquals(Boolean.TRUE, calls.get(2).mountedAfter());
    assertEquals("OK", calls.get(3).code());
    assertTrue(calls.get(3).probe());
    assertEquals(Boolean.FALSE, calls.get(4).mountedAfter());
    assertEquals("/t/not-mounted", calls.get(4).targetPath());
    assertTrue(calls.get(5).probe());
    CsiCall unpublish = calls.get(6);
    assertEquals("NodeUnpublishVolume", unpublish.method());
    assertFalse(unpublish.probe());
    assertNull(unpublish.mountedAfter());
    for (int i = 0; i < calls.size(); i++) {
      assertEquals(i + 1, calls.get(i).seq());
    }
  }

  /** One call through, so the node's connection is up before a test measures against its deadline or cancels early. */
  private void warmUp() throws Exception {
    assertEquals(0, node.call(GrpcJsPeer.csi("Identity", "Probe", "{}", 30000)).get("code").asInt());
    driver.assertServedNext("Probe", "");
  }

  /** Stages each volume in turn; the node's status codes. */
  private List<Integer> codes(List<String> volumes) throws Exception {
    List<Integer> codes = new ArrayList<>();
    for (String v : volumes) {
      codes.add(node.call(stage(v, 5000)).get("code").asInt());
    }
    return codes;
  }
}
