package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.MountTable;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ShippedScenarios;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
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

  // ---- stale-registration-sockets

  @Test
  void staleRegistrationSocketsPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("stale-registration-sockets");
    passed(r);
  }

  // ---- missing-vol-data

  @Test
  void missingVolDataPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("missing-vol-data");
    passed(r);
  }

  // ---- orphaned-pod-dir

  @Test
  void orphanedPodDirPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("orphaned-pod-dir");
    passed(r);
  }

  // ---- agent-crash-after-call

  @Test
  void agentCrashAfterCallPassesOnHostpath() throws ScenarioException {
    ScenarioResult r = onHostpath("agent-crash-after-call");
    passed(r);
  }
}
