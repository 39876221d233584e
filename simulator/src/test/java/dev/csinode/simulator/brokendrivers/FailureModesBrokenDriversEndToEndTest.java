package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.invariants.NothingLeftUnwanted;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ScenarioStep;
import dev.csinode.simulator.scenario.ShippedScenarios;
import dev.csinode.simulator.scenario.Step;
import dev.csinode.simulator.trace.CsiCall;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped failure-mode scenarios of the kubelet's known bugs (k/k#82190, #106729, #102486, #135736), each run
 * through the whole engine against a test driver that reproduces the driver-side fault: each fails exactly the
 * checks that fault breaks, and the scenario names a hint for each. The plain in-memory driver passes each scenario,
 * so a failure is the breakage's, not the scenario's. No root: the drivers share a simulated mount table with the
 * runner; {@code stage-during-unstage}'s data steps are left out (the in-memory driver keeps no data), its other
 * steps run as shipped. {@code ShippedScenariosEndToEndTest} runs them as shipped against the bundled driver.
 */
class FailureModesBrokenDriversEndToEndTest {
  static final String CLEANUP = "cleanup leaves nothing behind";

  @TempDir Path dir;
  final SimulatedMounts mounts = new SimulatedMounts();
  final InMemoryDriver.Options options = InMemoryDriver.Options.defaults();
  int runs;

  /** The shipped scenario, without the steps that need real mounts (write-data, verify-data). */
  static Scenario shipped(String name) throws ScenarioException {
    Scenario s = ShippedScenarios.load(name);
    List<ScenarioStep> steps = s.steps().stream()
        .filter(st -> !(st.step() instanceof Step.WriteData) && !(st.step() instanceof Step.VerifyData)).toList();
    return new Scenario(s.name(), s.description(), s.seed(), s.inMemoryDriver(), s.volumeManager(), s.faults(), steps, s.origin(),
        s.suite(), s.requires(), s.references(), s.hints(), s.hostpathDriver());
  }

  ScenarioResult run(String name, Function<SimulatedMounts, BundledDriver> driver) throws ScenarioException {
    return new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver.apply(mounts), mounts), false, null,
        Duration.ofSeconds(10))).run(shipped(name), ++runs);
  }

  /** The check name of the scenario's wait step (wait-ready or wait-gone) for a pod: its last one. */
  static String waitCheck(Scenario s, String kind, String pod) {
    ScenarioStep found = null;
    for (ScenarioStep st : s.steps()) {
      if (st.step().kind().equals(kind) && (st.step() instanceof Step.WaitReady w ? w.pod().equals(pod)
          : st.step() instanceof Step.WaitGone g && g.pod().equals(pod))) {
        found = st;
      }
    }
    assertTrue(found != null, "the scenario " + s.name() + " has a " + kind + " of " + pod);
    return found.label() + " " + pod;
  }

  /** Every failed check has a hint in the scenario: by invariant name, step kind, or cleanup. */
  static void hinted(Scenario s, Set<String> failed) {
    for (String check : failed) {
      String key = check.startsWith("invariant ") ? check.substring("invariant ".length())
          : check.equals(CLEANUP) ? "cleanup" : check.split(" ")[2];
      assertTrue(s.hints().containsKey(key), () -> "the scenario " + s.name() + " has a hint for '" + check + "' (" + key + "): " + s.hints());
    }
  }

  void passesWithThePlainInMemoryDriver(String name) throws ScenarioException {
    ScenarioResult r = run(name, m -> new InMemoryDriver(options, m));
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(r.passed(), () -> BrokenDriversEndToEndTest.describe(r));
  }

  /**
   * k/k#82190: the stage's answer is lost, the pod deleted; the node unstages the uncertain stage. A driver that
   * takes a never-published volume for never staged answers that unstage OK and leaves its mount.
   */
  @Test
  void stageTimeoutPodDeleted() throws ScenarioException {
    String name = "stage-timeout-pod-deleted";
    passesWithThePlainInMemoryDriver(name);
    ScenarioResult r = run(name, m -> new UnstageIgnoresUnpublishedStageDriver(options, m));
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    Set<String> failed = BrokenDriversEndToEndTest.failed(r);
    // The node finds the staging path still mounted after the unstage answered OK and keeps at it: the pod never goes.
    String waitGone = waitCheck(shipped(name), "wait-gone", "default/a");
    assertEquals(new TreeSet<>(Set.of(waitGone, "invariant " + NothingLeftUnwanted.NAME, CLEANUP)), failed,
        () -> BrokenDriversEndToEndTest.describe(r));
    String staging = BrokenDriversEndToEndTest.nodeCalls(r, "NodeStageVolume").get(0).stagingPath();
    assertTrue(BrokenDriversEndToEndTest.check(r, "invariant " + NothingLeftUnwanted.NAME).violations().stream()
        .anyMatch(v -> v.message().contains(staging)), () -> BrokenDriversEndToEndTest.describe(r));
    // The node did its part: the stages' answers were lost, it unstaged once the pod was gone, and never published.
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodeStageVolume").stream().allMatch(c -> "DEADLINE_EXCEEDED".equals(c.code())),
        r.trace()::toString);
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodeUnstageVolume").stream().anyMatch(CsiCall::ok), r.trace()::toString);
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodePublishVolume").isEmpty(), r.trace()::toString);
    hinted(shipped(name), failed);
  }

  /**
   * k/k#106729: the unstage's answer is lost after the driver unmounted; the new pod gets a fresh stage before its
   * publish. A driver whose unstage fails after unmounting and is not idempotent never lets the volume go.
   */
  @Test
  void unstageFailsNewPod() throws ScenarioException {
    String name = "unstage-fails-new-pod";
    passesWithThePlainInMemoryDriver(name);
    Scenario s = shipped(name);
    ScenarioResult r = run(name, m -> new UnstageNotIdempotentDriver(options, m));
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    Set<String> failed = BrokenDriversEndToEndTest.failed(r);
    String waitGone = waitCheck(s, "wait-gone", "default/b");
    assertEquals(new TreeSet<>(Set.of(waitGone, "invariant " + NothingLeftUnwanted.NAME, CLEANUP)), failed,
        () -> BrokenDriversEndToEndTest.describe(r));
    List<CsiCall> unstages = BrokenDriversEndToEndTest.nodeCalls(r, "NodeUnstageVolume");
    assertTrue(unstages.stream().anyMatch(c -> "INTERNAL".equals(c.code())), r.trace()::toString);
    assertTrue(unstages.stream().noneMatch(CsiCall::ok), r.trace()::toString);
    // The node's part held: pod b's publish came after a second stage answered OK (stage-before-publish passed).
    List<CsiCall> stages = BrokenDriversEndToEndTest.nodeCalls(r, "NodeStageVolume").stream().filter(CsiCall::ok).toList();
    List<CsiCall> publishes = BrokenDriversEndToEndTest.nodeCalls(r, "NodePublishVolume").stream().filter(CsiCall::ok).toList();
    assertEquals(2, stages.size(), r.trace()::toString);
    assertEquals(2, publishes.size(), r.trace()::toString);
    assertTrue(stages.get(1).endMicros() <= publishes.get(1).startMicros(), r.trace()::toString);
    hinted(s, failed);
  }

  /**
   * k/k#102486: the unstage reaches the driver after the node's deadline, once a new pod has the volume staged and
   * published again. A driver with no per-volume lock and no "still published" check unstages it under the pod: the
   * next pod's publish fails.
   */
  @Test
  void stageDuringUnstage() throws ScenarioException {
    String name = "stage-during-unstage";
    passesWithThePlainInMemoryDriver(name);
    Scenario s = shipped(name);
    ScenarioResult r = run(name, m -> new LateUnstageClobbersDriver(options, m));
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    Set<String> failed = BrokenDriversEndToEndTest.failed(r);
    String waitReady = waitCheck(s, "wait-ready", "default/c");
    assertEquals(Set.of(waitReady), failed, () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(BrokenDriversEndToEndTest.check(r, waitReady).failure().contains("FAILED_PRECONDITION"),
        BrokenDriversEndToEndTest.check(r, waitReady)::failure);
    // The node sent one unstage, which timed out; pod b's stage came after it, as the kubelet's would.
    List<CsiCall> unstages = BrokenDriversEndToEndTest.nodeCalls(r, "NodeUnstageVolume");
    assertEquals("DEADLINE_EXCEEDED", unstages.get(0).code(), r.trace()::toString);
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodeStageVolume").stream()
        .anyMatch(c -> c.ok() && c.startMicros() >= unstages.get(0).endMicros()), r.trace()::toString);
    hinted(s, failed);
  }

  /** k/k#135736: NOT_FOUND from NodePublishVolume; a driver that answers it forever leaves the pod waiting. */
  @Test
  void publishNotFound() throws ScenarioException {
    String name = "publish-not-found";
    passesWithThePlainInMemoryDriver(name);
    Scenario s = shipped(name);
    ScenarioResult r = run(name, m -> new PublishNotFoundDriver(options, m));
    assertNull(r.error(), () -> BrokenDriversEndToEndTest.describe(r));
    Set<String> failed = BrokenDriversEndToEndTest.failed(r);
    String waitReady = waitCheck(s, "wait-ready", "default/a");
    assertEquals(Set.of(waitReady), failed, () -> BrokenDriversEndToEndTest.describe(r));
    assertTrue(BrokenDriversEndToEndTest.check(r, waitReady).failure().contains("NOT_FOUND"),
        BrokenDriversEndToEndTest.check(r, waitReady)::failure);
    hinted(s, failed);
  }

  /**
   * With the fault on, the node backs off between NodePublishVolume attempts: the gaps between the NOT_FOUND
   * answers grow (100 ms doubling in the scenario), and no publish answered OK.
   */
  @Test
  void publishNotFoundBacksOffWithGrowingGaps() throws ScenarioException {
    ScenarioResult r = run("publish-not-found", m -> new InMemoryDriver(options, m));
    assertTrue(r.passed(), () -> BrokenDriversEndToEndTest.describe(r));
    List<CsiCall> notFound = BrokenDriversEndToEndTest.nodeCalls(r, "NodePublishVolume").stream()
        .filter(c -> "NOT_FOUND".equals(c.code())).toList();
    assertTrue(notFound.size() >= 4, r.trace()::toString);
    long[] gaps = new long[3];
    for (int i = 1; i < 4; i++) {
      gaps[i - 1] = notFound.get(i).startMicros() - notFound.get(i - 1).endMicros();
      // Never a retry sooner than the scenario's first backoff (100 ms; 80 for the clocks' slack).
      assertTrue(gaps[i - 1] >= 80_000, () -> "a backoff before each attempt: " + notFound);
    }
    // Doubling: the third gap is well above the first (a fixed delay would keep them alike).
    assertTrue(gaps[2] > gaps[0] * 3 / 2, () -> "growing gaps between the attempts " + Arrays.toString(gaps) + ": " + notFound);
  }
}
