package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.grpc.SocketFiles;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.MountTable;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.invariants.NoDataLost;
import dev.csinode.simulator.invariants.NothingLeftUnwanted;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioParser;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ShippedScenarios;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Files;
import java.nio.file.LinkOption;
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
 * The shipped scenarios of the kubelet's restart failure modes (driver-gone-at-restart, stale-registration-sockets,
 * missing-vol-data, orphaned-pod-dir, agent-crash-after-call), each proven both ways: it passes against the bundled
 * hostpath driver with real mounts (root, private mount namespace), with the calls that make it pass in its trace;
 * and it fails, with the check that names the fault, against a deliberately broken driver reproducing that fault.
 */
class FailureModesRestartBrokenDriversEndToEndTest {
  static final String CLEANUP = BrokenDriversEndToEndTest.CLEANUP;
  @TempDir Path dir;
  final SimulatedMounts mounts = new SimulatedMounts();
  final InMemoryDriver.Options options = InMemoryDriver.Options.defaults();

  ScenarioResult onHostpath(String name) throws ScenarioException {
    PrivateMountNamespace.require();
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(BundledHostpathDriver.INSTANCE),
        false, null)).run(ShippedScenarios.load(name), 1);
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    return r;
  }

  /** A broken in-memory driver on a mount table shared with the runner (no root); the teardown waits 10 s at most. */
  ScenarioResult onBroken(String name, BundledDriver driver) throws ScenarioException {
    return new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver, mounts), false, null,
        Duration.ofSeconds(10))).run(ShippedScenarios.load(name), 1);
  }

  /** Every step carried out and every invariant checked, whatever failed. */
  static void ranToTheEnd(ScenarioResult r) {
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    Set<String> names = r.checks().stream().map(Check::name).collect(Collectors.toSet());
    Invariants.all().forEach(inv -> assertTrue(names.contains("invariant " + inv.name()), () -> BrokenDriversEndToEndTest.describe(r)));
  }

  static void passed(ScenarioResult r) {
    ranToTheEnd(r);
    assertTrue(r.passed(), () -> BrokenDriversEndToEndTest.describe(r));
  }

  static List<CsiCall> calls(ScenarioResult r, String method) {
    return BrokenDriversEndToEndTest.nodeCalls(r, method);
  }

  // ---- the steps' errors

  static final String STEP_ERRORS = """
      name: step-errors
      description: one step that cannot be carried out
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
      - wait-ready: {pod: default/a, timeout: 10s}
      - %s
      """;

  ScenarioResult runInMemory(String text) throws ScenarioException {
    return new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(new InMemoryDriver(options, mounts), mounts),
        false, null, Duration.ofSeconds(10))).run(ScenarioParser.parse("step-errors.yaml", text, relative -> {
          throw new NoSuchFileException(relative);
        }), 1);
  }

  /** A pod the agent does not keep cannot be deleted while it is down: a step error; the new agent still runs and cleans up. */
  @Test
  void forgettingAPodTheAgentDoesNotHaveIsAStepErrorAndTheNodeStillCleansUp() throws ScenarioException {
    ScenarioResult r = runInMemory(STEP_ERRORS.formatted("restart-agent: {crash: true, forget: [default/nobody]}"));
    assertNotNull(r.error());
    assertTrue(r.error().startsWith("step 3 restart-agent (line "), r.error());
    assertTrue(r.error().contains("pod default/nobody is not among the objects the agent keeps"), r.error());
    assertEquals(Set.of(), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(mounts.table().under(dir).isEmpty(), "torn down by the new agent: " + mounts.table().under(dir));
  }

  /** Litter never replaces a file: the driver's live registration socket is left alone and the step is an error. */
  @Test
  void staleRegistrationOverAnExistingNameIsAStepError() throws ScenarioException {
    ScenarioResult r = runInMemory(STEP_ERRORS.formatted("stale-registration: {sockets: [\"{{driver}}-reg.sock\"]}"));
    assertNotNull(r.error());
    assertTrue(r.error().contains("memory.csinode.dev-reg.sock exists already; stale-registration never replaces a file"), r.error());
    assertEquals(Set.of(), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
  }

  // ---- driver-gone-at-restart

  @Test
  void driverGoneAtRestartPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("driver-gone-at-restart");
    passed(r);
    List<CsiCall> unpublishes = calls(r, "NodeUnpublishVolume");
    List<CsiCall> unstages = calls(r, "NodeUnstageVolume");
    assertEquals(1, unpublishes.size(), r.trace()::toString);
    assertEquals(1, unstages.size(), r.trace()::toString);
    assertTrue(unpublishes.get(0).endMicros() <= unstages.get(0).startMicros(), "unpublished, then unstaged");
  }

  /**
   * The forgetful driver answers NOT_FOUND to the teardown of what it staged and published before its restart: the
   * node keeps retrying (NOT_FOUND is not "already gone"), so the pod is never torn down and everything says so.
   */
  @Test
  void driverGoneAtRestartFailsWithADriverThatForgetsItsVolumesOnRestart() throws ScenarioException {
    ScenarioResult r = onBroken("driver-gone-at-restart", new ForgetfulDriver(options, mounts));
    ranToTheEnd(r);
    assertEquals(new TreeSet<>(Set.of("step 10 wait-gone default/a", "step 11 assert calls NodeUnpublishVolume OK = 1",
        "step 12 assert calls NodeUnstageVolume OK = 1", "step 13 assert volumes staged=0 published=0",
        "invariant " + NothingLeftUnwanted.NAME, CLEANUP)), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
    List<CsiCall> unpublishes = calls(r, "NodeUnpublishVolume");
    assertFalse(unpublishes.isEmpty());
    assertTrue(unpublishes.stream().allMatch(c -> "NOT_FOUND".equals(c.code())), r.trace()::toString);
    assertTrue(unpublishes.size() >= 2, () -> "retried with backoff: " + unpublishes);
  }

  // ---- stale-registration-sockets

  @Test
  void staleRegistrationSocketsPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("stale-registration-sockets");
    passed(r);
    // Nobody deleted what is not theirs: the old driver's dead socket and the files stay; the driver's own dead
    // socket was taken over by its registrar, which removed it when it stopped.
    Path registry = dir.resolve("1").resolve("root").resolve("plugins_registry");
    assertTrue(SocketFiles.isSocket(registry.resolve("gone.example.com-reg.sock")), "the dead socket is left alone");
    assertTrue(Files.isRegularFile(registry.resolve("notes.txt"), LinkOption.NOFOLLOW_LINKS));
    assertTrue(Files.isRegularFile(registry.resolve("old.example.com-reg.sock"), LinkOption.NOFOLLOW_LINKS));
    assertFalse(Files.exists(registry.resolve(BundledHostpathDriver.INSTANCE.name() + "-reg.sock"), LinkOption.NOFOLLOW_LINKS));
  }

  /**
   * A registrar that listens with a plain bind(2) cannot start over the dead socket the crash left at its own path:
   * the driver never registers again, the start-driver step is the run's error (the rest cannot be played), and the
   * cleanup finds the volume still mounted, since nothing could reach the driver to tear it down.
   */
  @Test
  void staleRegistrationSocketsFailsWithARegistrarThatDoesNotTakeOverADeadSocket() throws ScenarioException {
    InMemoryDriver driver = new InMemoryDriver(options, mounts);
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver, mounts,
        RegistrarWithoutTakeover.forDriver(driver.name())), false, null, Duration.ofSeconds(10)))
        .run(ShippedScenarios.load("stale-registration-sockets"), 1);
    assertFalse(r.passed());
    assertNotNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(r.error().startsWith("step 6 start-driver (line "), r.error());
    assertTrue(r.error().contains("memory.csinode.dev-reg.sock: Address already in use"), r.error());
    assertEquals(Set.of(CLEANUP), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
  }

  /** The same scenario with the project's registrar (which takes a dead socket over) and the same in-memory driver. */
  @Test
  void staleRegistrationSocketsPassesWithTheInMemoryDriver() throws ScenarioException {
    passed(onBroken("stale-registration-sockets", new InMemoryDriver(options, mounts)));
  }

  // ---- missing-vol-data

  @Test
  void missingVolDataPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("missing-vol-data");
    passed(r);
  }

  /**
   * A driver whose NodeUnpublishVolume needs the kubelet's vol_data.json answers NOT_FOUND once it is gone: the
   * node sends NodeUnpublishVolume all the same (from its journal) and retries, but nothing is ever torn down.
   */
  @Test
  void missingVolDataFailsWithADriverThatNeedsVolDataToUnpublish() throws ScenarioException {
    ScenarioResult r = onBroken("missing-vol-data", new VolDataDependentDriver(options, mounts));
    ranToTheEnd(r);
    assertEquals(new TreeSet<>(Set.of("step 7 wait-gone default/a", "step 8 assert calls NodeUnpublishVolume OK >= 1",
        "step 9 assert calls NodeUnstageVolume OK = 1", "step 10 assert volumes staged=0 published=0",
        "invariant " + NothingLeftUnwanted.NAME, CLEANUP)), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
    List<CsiCall> unpublishes = calls(r, "NodeUnpublishVolume");
    assertFalse(unpublishes.isEmpty());
    assertTrue(unpublishes.stream().allMatch(c -> "NOT_FOUND".equals(c.code()) && c.message().contains("vol_data.json")),
        r.trace()::toString);
    assertTrue(calls(r, "NodeUnstageVolume").isEmpty(), "never unstaged while the publish may stand");
  }

  // ---- orphaned-pod-dir

  @Test
  void orphanedPodDirPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("orphaned-pod-dir");
    passed(r);
    // The orphaned pod's directory went once nothing under it was mounted (the node's own cleanup, not the run's).
    Path target = Path.of(calls(r, "NodePublishVolume").get(0).targetPath());
    Path podDir = target.getParent().getParent().getParent().getParent();
    assertEquals(dir.resolve("1").resolve("root").resolve("pods").toAbsolutePath(), podDir.getParent());
    assertFalse(Files.exists(podDir, LinkOption.NOFOLLOW_LINKS), "the orphaned pod's directory is gone: " + podDir);
  }

  /**
   * The hostpath driver whose NodeUnpublishVolume deletes the files in the target first: the orphaned pod is torn
   * down as it should be, but the next pod on the claim reads nothing back.
   */
  @Test
  void orphanedPodDirFailsWithAnUnpublishThatRemovesTheData() throws ScenarioException {
    PrivateMountNamespace.require();
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(new UnpublishRemovesDataDriver()),
        false, null)).run(ShippedScenarios.load("orphaned-pod-dir"), 1);
    ranToTheEnd(r);
    assertEquals(Set.of("invariant " + NoDataLost.NAME), BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
  }

  // ---- agent-crash-after-call

  @Test
  void agentCrashAfterCallPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("agent-crash-after-call");
    passed(r);
    // The lost stage and publish were done by the driver; the new agents repeated them and were answered OK.
    assertTrue(calls(r, "NodeStageVolume").stream().anyMatch(c -> "DEADLINE_EXCEEDED".equals(c.code())), r.trace()::toString);
    assertTrue(calls(r, "NodePublishVolume").stream().anyMatch(c -> "DEADLINE_EXCEEDED".equals(c.code())), r.trace()::toString);
    assertTrue(calls(r, "NodeStageVolume").stream().anyMatch(CsiCall::ok), r.trace()::toString);
  }

  @Test
  void agentCrashAfterCallPassesWithTheInMemoryDriver() throws ScenarioException {
    passed(onBroken("agent-crash-after-call", new InMemoryDriver(options, mounts)));
  }

  /**
   * The stage whose answer was lost is repeated by the new agent and answered ALREADY_EXISTS: the pod never gets
   * ready (so the publish whose answer the next step would lose never happens), yet the teardown still works.
   */
  @Test
  void agentCrashAfterCallFailsWithAStageThatIsNotIdempotent() throws ScenarioException {
    ScenarioResult r = onBroken("agent-crash-after-call", new NonIdempotentStageDriver(options, mounts));
    ranToTheEnd(r);
    assertEquals(new TreeSet<>(Set.of("step 5 wait-ready default/a", "step 8 wait-calls NodePublishVolume DEADLINE_EXCEEDED",
        "step 10 wait-ready default/b", "step 11 wait-ready default/a", "step 12 assert volumes staged=1 published=2")),
        BrokenDriversEndToEndTest.failed(r), () -> BrokenDriversEndToEndTest.describe(r));
    String waitReady = BrokenDriversEndToEndTest.check(r, "step 5 wait-ready default/a").failure();
    assertTrue(waitReady.contains("ALREADY_EXISTS"), waitReady);
    assertTrue(calls(r, "NodeStageVolume").stream().anyMatch(c -> "ALREADY_EXISTS".equals(c.code())), r.trace()::toString);
    assertTrue(calls(r, "NodeUnstageVolume").stream().anyMatch(CsiCall::ok), "the uncertain stage is still torn down");
  }
}
