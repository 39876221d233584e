package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.invariants.EndState;
import dev.csinode.simulator.invariants.IdempotentRepeat;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.invariants.NothingLeftUnwanted;
import dev.csinode.simulator.invariants.PublishMounts;
import dev.csinode.simulator.invariants.Violation;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioParser;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.trace.CsiCall;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each deliberately broken driver through the whole scenario engine: the real agent, the driver behind the fault
 * proxy, the trace, the invariants and the cleanup, on a simulated mount table the driver shares with the runner (no
 * root). One small scenario (a provisioned claim, a pod made ready, deleted and waited for until gone); each broken
 * driver fails exactly the checks its breakage breaks, and the plain in-memory driver passes the same scenario, so
 * that a failure is the breakage's and not the scenario's.
 */
class BrokenDriversEndToEndTest {
  /** The agent's CSI deadline in the scenario: what ends a call the hanging driver never answers. */
  static final Duration CSI_TIMEOUT = Duration.ofSeconds(2);
  static final String SCENARIO = """
      name: broken-driver
      description: a provisioned claim published for a pod, then the pod deleted and torn down
      volumeManager: {backoffInitial: 100ms, backoffMax: 500ms, csiTimeout: 2s, resyncInterval: 1s}
      steps:
      - apply: |
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: "{{driver}}"}
          spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Persistent]}
          ---
          apiVersion: storage.k8s.io/v1
          kind: StorageClass
          metadata: {name: simulated}
          provisioner: "{{driver}}"
          reclaimPolicy: Delete
          ---
          apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: data, namespace: default}
          spec:
            storageClassName: simulated
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 64Mi}}
          ---
          apiVersion: v1
          kind: Pod
          metadata: {name: a, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
            volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
      - wait-ready: {pod: default/a, timeout: 6s}
      - delete: {kind: Pod, namespace: default, name: a}
      - wait-gone: {pod: default/a, timeout: 6s}
      """;
  static final String WAIT_READY = "step 2 wait-ready default/a";
  static final String WAIT_GONE = "step 4 wait-gone default/a";
  static final String CLEANUP = "cleanup leaves nothing behind";

  @TempDir Path dir;
  final SimulatedMounts mounts = new SimulatedMounts();
  final InMemoryDriver.Options options = InMemoryDriver.Options.defaults();

  static Scenario scenario() throws ScenarioException {
    return ScenarioParser.parse("broken-driver.yaml", SCENARIO, relative -> {
      throw new NoSuchFileException(relative);
    });
  }

  ScenarioResult run(BundledDriver driver) throws ScenarioException {
    return new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver, mounts), false, null,
        Duration.ofSeconds(10)))
        .run(scenario(), 1);
  }

  Path root() {
    return dir.resolve("1").resolve("root").toAbsolutePath();
  }

  /** The names of the checks that failed. */
  static Set<String> failed(ScenarioResult r) {
    return r.checks().stream().filter(c -> !c.passed()).map(Check::name).collect(Collectors.toCollection(TreeSet::new));
  }

  static Check check(ScenarioResult r, String name) {
    return r.checks().stream().filter(c -> c.name().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no check '" + name + "' in " + describe(r)));
  }

  /** The node's (not the proxy's probes') calls of a method. */
  static List<CsiCall> nodeCalls(ScenarioResult r, String method) {
    return r.trace().stream().filter(c -> !c.probe() && c.method().equals(method)).toList();
  }

  /** The one volume the scenario provisions, by its CSI id, as the node staged it. */
  static String volumeId(ScenarioResult r) {
    Set<String> ids = r.trace().stream().filter(c -> c.method().equals("NodeStageVolume")).map(CsiCall::volumeId)
        .collect(Collectors.toSet());
    assertEquals(1, ids.size(), () -> "one volume staged: " + ids);
    return ids.iterator().next();
  }

  static String describe(ScenarioResult r) {
    return (r.error() == null ? "" : "error " + r.error() + "\n") + r.checks().stream()
        .map(c -> "  " + c.name() + (c.passed() ? ": ok" : ": " + (c.failure() != null ? c.failure() : c.violations())))
        .collect(Collectors.joining("\n"));
  }

  /** Every invariant check and both waits ran, whatever failed; the scenario was carried out to its end. */
  static void ranToTheEnd(ScenarioResult r) {
    assertNull(r.error(), () -> describe(r));
    Set<String> names = r.checks().stream().map(Check::name).collect(Collectors.toSet());
    assertTrue(names.containsAll(Set.of(WAIT_READY, WAIT_GONE)), () -> describe(r));
    Invariants.all().forEach(inv -> assertTrue(names.contains("invariant " + inv.name()), () -> describe(r)));
  }

  /** Each violation of the check names its rule and the scenario's volume. */
  static List<Violation> violations(ScenarioResult r, String rule, String volume) {
    List<Violation> vs = check(r, "invariant " + rule).violations();
    assertFalse(vs.isEmpty(), () -> describe(r));
    for (Violation v : vs) {
      assertEquals(rule, v.rule(), v::toString);
      assertEquals(volume, v.volumeId(), v::toString);
      assertTrue(v.message().contains(volume), v::message);
      assertFalse(v.around().isEmpty(), () -> "the calls around it: " + v);
    }
    return vs;
  }

  void nothingLeftMounted(ScenarioResult r) {
    assertFalse(r.checks().stream().anyMatch(c -> c.name().equals(CLEANUP)), () -> describe(r));
    assertTrue(mounts.table().under(dir).isEmpty(), () -> "nothing mounted: " + mounts.table().under(dir));
  }

  @Test
  void theScenarioPassesWithThePlainInMemoryDriver() throws ScenarioException {
    ScenarioResult r = run(new InMemoryDriver(options, mounts));
    ranToTheEnd(r);
    assertTrue(r.passed(), () -> describe(r));
    assertEquals(Set.of(), failed(r));
    nothingLeftMounted(r);
    // What the broken drivers' checks judge is there and right: a stage and a publish answered OK, their repeats by
    // the proxy answered OK, the publish's target a mount point right after, the teardown answered OK.
    String volume = volumeId(r);
    assertTrue(nodeCalls(r, "NodeStageVolume").stream().anyMatch(CsiCall::ok), () -> describe(r));
    assertTrue(nodeCalls(r, "NodePublishVolume").stream().anyMatch(c -> c.ok() && Boolean.TRUE.equals(c.mountedAfter())),
        r.trace()::toString);
    assertEquals(Set.of("NodeStageVolume", "NodePublishVolume"), r.trace().stream().filter(c -> c.probe() && c.ok()
        && volume.equals(c.volumeId())).map(CsiCall::method).collect(Collectors.toSet()), r.trace()::toString);
    assertTrue(nodeCalls(r, "NodeUnpublishVolume").stream().allMatch(CsiCall::ok), r.trace()::toString);
    assertTrue(nodeCalls(r, "NodeUnstageVolume").stream().anyMatch(CsiCall::ok), r.trace()::toString);
  }

  @Test
  void aStageThatIsNotIdempotentFailsIdempotentRepeat() throws ScenarioException {
    ScenarioResult r = run(new NonIdempotentStageDriver(options, mounts));
    ranToTheEnd(r);
    assertFalse(r.passed());
    assertEquals(Set.of("invariant " + IdempotentRepeat.NAME), failed(r), () -> describe(r));
    String volume = volumeId(r);
    for (Violation v : violations(r, IdempotentRepeat.NAME, volume)) {
      assertTrue(v.message().contains("NodeStageVolume") && v.message().contains("ALREADY_EXISTS"), v::message);
    }
    nothingLeftMounted(r);
  }

  @Test
  void aPublishThatMountsNothingFailsPublishMounts() throws ScenarioException {
    ScenarioResult r = run(new PublishWithoutMountDriver(options, mounts));
    ranToTheEnd(r);
    assertFalse(r.passed());
    assertEquals(Set.of("invariant " + PublishMounts.NAME), failed(r), () -> describe(r));
    String volume = volumeId(r);
    List<CsiCall> publishes = nodeCalls(r, "NodePublishVolume");
    assertTrue(publishes.stream().anyMatch(c -> c.ok() && Boolean.FALSE.equals(c.mountedAfter())), r.trace()::toString);
    for (Violation v : violations(r, PublishMounts.NAME, volume)) {
      assertTrue(publishes.stream().anyMatch(c -> v.message().contains(c.targetPath())), v::message);
    }
    nothingLeftMounted(r);
  }

  /**
   * The hanging driver stages (mounts) and never answers. The proxy ends each NodeStageVolume at the node's deadline
   * with DEADLINE_EXCEEDED (or CANCELLED when the node resets it first); the node retries, the pod never gets ready:
   * the wait-ready assertion fails. Every invariant holds, and for the right reason: the node treats the timed-out
   * stages as uncertain and, once the pod is deleted, unstages after the last hung stage ended (one operation per
   * volume), so nothing is left staged; without that unstage the same trace breaks nothing-left-unwanted.
   */
  @Test
  void aHangingStageFailsWaitReadyAndTheNodeCleansUpTheUncertainStage() throws ScenarioException {
    ScenarioResult r = run(new HangingDriver(options, mounts));
    ranToTheEnd(r);
    assertFalse(r.passed());
    assertEquals(Set.of(WAIT_READY), failed(r), () -> describe(r));
    String waitReady = check(r, WAIT_READY).failure();
    assertTrue(waitReady.contains("NodeStageVolume") && waitReady.contains("DEADLINE_EXCEEDED"), waitReady);

    String volume = volumeId(r);
    List<CsiCall> stages = nodeCalls(r, "NodeStageVolume");
    assertFalse(stages.isEmpty());
    for (CsiCall s : stages) {
      assertTrue(Set.of("DEADLINE_EXCEEDED", "CANCELLED").contains(s.code()), s::toString);
      // Ended by the deadline, not by an answer: the proxy measures from the call's arrival, a little after the node sent it.
      assertTrue(s.endMicros() - s.startMicros() >= CSI_TIMEOUT.toNanos() / 1000 / 2, s::toString);
    }
    assertTrue(r.trace().stream().noneMatch(CsiCall::inFlight), () -> "every call ended: " + r.trace());
    List<CsiCall> unstages = nodeCalls(r, "NodeUnstageVolume");
    assertEquals(1, unstages.size(), r.trace()::toString);
    CsiCall unstage = unstages.get(0);
    assertTrue(unstage.ok(), unstage::toString);
    assertTrue(stages.stream().allMatch(s -> s.endMicros() <= unstage.startMicros()), r.trace()::toString);
    assertTrue(nodeCalls(r, "NodePublishVolume").isEmpty(), r.trace()::toString);

    List<CsiCall> withoutTheUnstage = r.trace().stream().filter(c -> c != unstage).toList();
    List<Violation> left = new NothingLeftUnwanted().check(withoutTheUnstage, new EndState(root(), List.of(), Set.of(), List.of()), true);
    assertEquals(1, left.size(), left::toString);
    assertEquals(volume, left.get(0).volumeId());
    assertTrue(left.get(0).message().contains("may still be staged"), left.get(0)::message);
    nothingLeftMounted(r);
  }

  /**
   * The not-found driver answers NOT_FOUND to NodeUnpublishVolume and NodeUnstageVolume of a volume it has, undoing
   * nothing. The node does not take NOT_FOUND for "already gone": it retries the unpublish and never unstages, so
   * the pod is never torn down (wait-gone fails), the end state keeps the volume staged and published for no pod
   * (nothing-left-unwanted, once per path), no-unstage-while-published holds, and the cleanup finds both mounts left
   * (after waiting, 10 s here, for the teardown that cannot happen).
   */
  @Test
  void notFoundForAVolumeItHasLeavesItMountedAndEveryCheckSaysSo() throws ScenarioException {
    ScenarioResult r = run(new NotFoundDriver(options, mounts));
    ranToTheEnd(r);
    assertFalse(r.passed());
    assertEquals(new TreeSet<>(Set.of(WAIT_GONE, "invariant " + NothingLeftUnwanted.NAME, CLEANUP)), failed(r), () -> describe(r));
    String volume = volumeId(r);
    assertTrue(check(r, WAIT_GONE).failure().contains(volume), check(r, WAIT_GONE)::failure);

    List<CsiCall> unpublishes = nodeCalls(r, "NodeUnpublishVolume");
    assertFalse(unpublishes.isEmpty());
    assertTrue(unpublishes.stream().allMatch(c -> "NOT_FOUND".equals(c.code())), r.trace()::toString);
    assertTrue(nodeCalls(r, "NodeUnstageVolume").isEmpty(), r.trace()::toString);
    String staging = nodeCalls(r, "NodeStageVolume").get(0).stagingPath();
    String target = nodeCalls(r, "NodePublishVolume").get(0).targetPath();
    assertNotNull(staging);
    assertNotNull(target);

    List<Violation> left = violations(r, NothingLeftUnwanted.NAME, volume);
    assertEquals(2, left.size(), left::toString);
    assertTrue(left.stream().anyMatch(v -> v.message().contains("still staged at " + staging)), left::toString);
    assertTrue(left.stream().anyMatch(v -> v.message().contains("still published at " + target)), left::toString);

    Check cleanup = check(r, CLEANUP);
    assertEquals(Check.Kind.INVARIANT, cleanup.kind());
    assertTrue(cleanup.failure().contains("still mounted (simulated): " + staging), cleanup::failure);
    assertTrue(cleanup.failure().contains("still mounted (simulated): " + target), cleanup::failure);
  }
}
