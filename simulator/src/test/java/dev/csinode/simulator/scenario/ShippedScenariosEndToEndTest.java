package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every shipped scenario with real mounts passes against the bundled hostpath driver: the whole engine (node, driver
 * behind the fault proxy, trace, invariants, cleanup) with real mount(2) and loop devices. Root, private mount
 * namespace; each leaves nothing mounted and no loop device behind.
 */
class ShippedScenariosEndToEndTest {
  @TempDir Path dir;

  /** Every shipped scenario that runs on the bundled driver by default (not the in-memory driver's). */
  static Stream<String> realMountScenarios() throws ScenarioException {
    List<String> names = new ArrayList<>();
    for (String name : ShippedScenarios.names()) {
      if (ShippedScenarios.load(name).inMemoryDriver() == null) {
        names.add(name);
      }
    }
    assertTrue(names.size() >= 8, "the shipped real-mount scenarios were found: " + names);
    return names.stream();
  }

  @ParameterizedTest
  @MethodSource("realMountScenarios")
  void passesAgainstTheBundledDriver(String name) throws ScenarioException {
    PrivateMountNamespace.require();
    Scenario scenario = ShippedScenarios.load(name);
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, null, false, null)).run(scenario, 1);
    assertTrue(r.passed(), () -> describe(r));
    assertEquals(scenario.steps().size(), r.steps());
    assertTrue(r.checks().stream().anyMatch(c -> c.kind() == Check.Kind.INVARIANT), "the invariants were checked");
    assertFalse(r.trace().isEmpty(), "the node's CSI calls were traced");
    // The cleanup keeps the driver until the claims' volumes are deleted: stopped under a DeleteVolume, it kept them.
    assertTrue(r.trace().stream().filter(c -> c.method().equals("DeleteVolume")).allMatch(c -> c.ok()),
        () -> "every DeleteVolume answered OK: " + r.trace().stream().filter(c -> c.method().equals("DeleteVolume")).toList());
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(dir.toString())), "no loop device left");
  }

  /** The in-memory scenario of churn, forced onto the bundled driver: every shipped scenario runs against it (node-scale's 6,000 pods are the in-memory driver's job). */
  @Test
  void churnPassesAgainstTheBundledDriverToo() throws ScenarioException {
    PrivateMountNamespace.require();
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, new DriverUnderTest.InProcess(BundledHostpathDriver.INSTANCE),
        false, null)).run(ShippedScenarios.load("churn"), 1);
    assertTrue(r.passed(), () -> describe(r));
    assertTrue(r.trace().stream().anyMatch(c -> c.method().equals("NodePublishVolume") && Boolean.TRUE.equals(c.mountedAfter())),
        "real mounts were looked at");
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
  }

  static String describe(ScenarioResult r) {
    return r.scenario() + (r.error() == null ? "" : ": error " + r.error()) + "\n" + r.checks().stream().filter(c -> !c.passed())
        .map(c -> "  " + c.name() + ": " + (c.failure() != null ? c.failure() : c.violations()))
        .collect(Collectors.joining("\n"));
  }
}
