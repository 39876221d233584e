package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ScenarioStep;
import dev.csinode.simulator.scenario.ShippedScenarios;
import dev.csinode.simulator.scenario.Step;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The ordinary lives proven the other way: each shipped scenario of issue 14's ordinary lives (generic-ephemeral,
 * attach-required, read-only, fs-group, volume-limits) fails against a hostpath driver broken in the one way it
 * guards against, with exactly the checks that name that fault, and passes against the same relay with nothing
 * broken (so the relay is not what fails). Root, private mount namespace, real mounts; nothing left behind.
 */
class OrdinaryLivesBrokenDriversEndToEndTest {
  /** A broken driver never tears down what it refuses to: the cleanup gives up after this, not after minutes. */
  private static final Duration TEARDOWN = Duration.ofSeconds(5);

  @TempDir Path dir;

  /**
   * Scenario, broken driver, and the failed checks it must produce: each a part of the check's name (the step's
   * kind and what it checks, without its number) with a text its failure must contain.
   */
  static Stream<Arguments> broken() {
    return Stream.of(
        Arguments.of("read-only", new ReadOnlyIgnoredDriver(), Map.of(
            "assert-volume default/reader data read-only", "mounted read-write")),
        Arguments.of("fs-group", new MountGroupIgnoredDriver(), Map.of(
            "assert-volume default/grouped data writable group 2345", "has group 0")),
        Arguments.of("attach-required", new PublishContextDroppedDriver(), Map.of(
            "wait-ready default/a", "not attached",
            "assert-order ControllerPublishVolume < NodeStageVolume < NodePublishVolume", "ControllerPublishVolume")),
        Arguments.of("generic-ephemeral", new DeleteVolumeRefusedDriver(), Map.of(
            "wait-provisioned default/eph-scratch deleted", "deliberately wrong",
            "assert calls DeleteVolume OK = 1", "FAILED_PRECONDITION",
            "assert-order CreateVolume < NodeStageVolume", "NodeUnstageVolume",
            "cleanup leaves nothing behind", "provisioned volumes not deleted")),
        Arguments.of("volume-limits", new UnreportedLimitDriver(), Map.of(
            "wait-reason default/c \"max_volumes_per_node\"", "RESOURCE_EXHAUSTED",
            "assert calls NodeStageVolume = 2", "NodeStageVolume calls by code")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("broken")
  void failsAgainstTheDriverBrokenTheWayItGuardsAgainst(String name, BundledDriver driver, Map<String, String> expected)
      throws ScenarioException {
    PrivateMountNamespace.require();
    ScenarioResult r = run(name, driver);
    assertFalse(r.passed(), name + " passed against " + driver.getClass().getSimpleName());
    List<Check> failed = r.checks().stream().filter(c -> !c.passed()).toList();
    for (Map.Entry<String, String> e : expected.entrySet()) {
      List<Check> named = failed.stream().filter(c -> c.name().contains(e.getKey())).toList();
      assertEquals(1, named.size(), () -> "one failed check named \"" + e.getKey() + "\"; failed: " + describe(r));
      String why = named.get(0).failure() + named.get(0).violations();
      assertTrue(why.contains(e.getValue()), () -> e.getKey() + " fails saying \"" + e.getValue() + "\": " + why);
    }
    assertEquals(expected.size(), failed.size(), () -> "exactly the expected checks fail: " + describe(r));
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(dir.toString())), "no loop device left");
  }

  /** The control: the relay with nothing broken, the scenario's own hostpath settings, passes. */
  @ParameterizedTest
  @ValueSource(strings = {"read-only", "fs-group", "attach-required", "generic-ephemeral", "volume-limits"})
  void passesAgainstTheSameRelayWithNothingBroken(String name) throws ScenarioException {
    PrivateMountNamespace.require();
    Scenario.HostpathOptions o = ShippedScenarios.load(name).hostpathDriver();
    ScenarioResult r = run(name, RelayedHostpathDriver.unbroken(o == null ? 0 : o.maxVolumes(), o != null && o.attach()));
    assertTrue(r.passed(), () -> describe(r));
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
  }

  /**
   * fs-group asks for the group, not for who sets it: a driver with VOLUME_MOUNT_GROUP that applies volume_mount_group
   * itself passes, and the node passed the pod's fsGroup in both NodeStageVolume and NodePublishVolume.
   */
  @Test
  void fsGroupPassesAgainstADriverThatAppliesVolumeMountGroupItself() throws ScenarioException {
    PrivateMountNamespace.require();
    MountGroupHonouredDriver driver = new MountGroupHonouredDriver();
    ScenarioResult r = run("fs-group", driver);
    assertTrue(r.passed(), () -> describe(r));
    // The first pod has no fsGroup (no volume_mount_group); the second's 2345 reaches its stage and its publish
    // (each also repeated once by the proxy's idempotency probe).
    assertEquals(List.of("NodeStageVolume ", "NodePublishVolume ", "NodeStageVolume 2345", "NodePublishVolume 2345"),
        driver.groupsSeen().stream().distinct().toList());
  }

  /**
   * The kubelet passes the pod's fsGroup to a driver with VOLUME_MOUNT_GROUP whatever the CSIDriver's fsGroupPolicy:
   * fs-group with fsGroupPolicy None still gets its group from such a driver (the agent left volume_mount_group out
   * for None, and the group was never set).
   */
  @Test
  void fsGroupPolicyNoneStillGivesTheGroupToADriverWithVolumeMountGroup() throws ScenarioException {
    PrivateMountNamespace.require();
    Scenario fsGroup = ShippedScenarios.load("fs-group");
    List<ScenarioStep> steps = fsGroup.steps().stream().map(st -> st.step() instanceof Step.Apply a && a.text().contains("fsGroupPolicy: File")
        ? new ScenarioStep(st.number(), st.line(), st.column(), new Step.Apply(a.text().replace("fsGroupPolicy: File", "fsGroupPolicy: None"), null))
        : st).toList();
    assertTrue(steps.stream().anyMatch(st -> st.step() instanceof Step.Apply a && a.text().contains("fsGroupPolicy: None")));
    Scenario none = new Scenario(fsGroup.name(), fsGroup.description(), fsGroup.seed(), null, fsGroup.volumeManager(), fsGroup.faults(),
        steps, fsGroup.origin(), fsGroup.suite(), fsGroup.requires(), fsGroup.references(), fsGroup.hints(), null);
    MountGroupHonouredDriver driver = new MountGroupHonouredDriver();
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver), false, null, TEARDOWN))
        .run(none, 1);
    assertTrue(r.passed(), () -> describe(r));
    assertTrue(driver.groupsSeen().containsAll(List.of("NodeStageVolume 2345", "NodePublishVolume 2345")), driver.groupsSeen()::toString);
  }

  private ScenarioResult run(String name, BundledDriver driver) throws ScenarioException {
    return new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(driver), false, null, TEARDOWN))
        .run(ShippedScenarios.load(name), 1);
  }

  private static String describe(ScenarioResult r) {
    return r.scenario() + (r.error() == null ? "" : ": error " + r.error()) + "\n" + r.checks().stream().filter(c -> !c.passed())
        .map(c -> "  " + c.name() + ": " + (c.failure() != null ? c.failure() : c.violations()))
        .collect(Collectors.joining("\n"));
  }
}
