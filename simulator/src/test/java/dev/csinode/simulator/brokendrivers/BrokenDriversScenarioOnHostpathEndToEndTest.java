package dev.csinode.simulator.brokendrivers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broken drivers' scenario against the real bundled hostpath driver with real mounts (root, private mount
 * namespace): it passes there too, so what fails with the broken drivers is theirs, not the simulated mounts'.
 */
class BrokenDriversScenarioOnHostpathEndToEndTest {
  @TempDir Path dir;

  @Test
  void theScenarioPassesAgainstTheHostpathDriverWithRealMounts() throws ScenarioException {
    PrivateMountNamespace.require();
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir,
        new DriverUnderTest.InProcess(BundledHostpathDriver.INSTANCE), false, null)).run(BrokenDriversEndToEndTest.scenario(), 1);
    BrokenDriversEndToEndTest.ranToTheEnd(r);
    assertTrue(r.passed(), () -> BrokenDriversEndToEndTest.describe(r));
    assertEquals(Set.of(), BrokenDriversEndToEndTest.failed(r));
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodePublishVolume").stream()
        .anyMatch(c -> c.ok() && Boolean.TRUE.equals(c.mountedAfter())), r.trace()::toString);
    assertTrue(r.trace().stream().anyMatch(c -> c.probe() && c.ok() && c.method().equals("NodeStageVolume")), r.trace()::toString);
    assertTrue(BrokenDriversEndToEndTest.nodeCalls(r, "NodeUnstageVolume").stream().anyMatch(CsiCall::ok), r.trace()::toString);
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(dir.toString())), "no loop device left");
  }
}
