package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.simulator.report.ScenarioResult;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node-scale scenarios with the in-memory driver and simulated mounts: no root, no mount namespace, no mount(2).
 * node-scale takes a few minutes on a loaded 2-core machine (5,000 pods with a claim each, a crash, 1,000 pods of churn).
 */
class NodeScaleScenariosEndToEndTest {
  @TempDir Path dir;

  @Test
  void churnPassesWithTheInMemoryDriver() throws ScenarioException {
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, null, false, null)).run(ShippedScenarios.load("churn"), 1);
    assertTrue(r.passed(), () -> ShippedScenariosEndToEndTest.describe(r));
    assertEquals("300", r.figures().get("step 2 churn: ready"));
    assertEquals("300", r.figures().get("step 2 churn: torn down"));
    assertTrue(r.figures().get("step 2 churn: ready latency p99").endsWith(" ms"), r.figures().toString());
  }

  @Test
  void nodeScalePassesWithTheInMemoryDriver() throws ScenarioException {
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, null, false, null)).run(ShippedScenarios.load("node-scale"), 1);
    assertTrue(r.passed(), () -> ShippedScenariosEndToEndTest.describe(r));
    assertEquals("5000", r.figures().get("step 2 pods: ready"));
    assertTrue(r.figures().get("step 2 pods: throughput").endsWith(" pods/s"), r.figures().toString());
    assertEquals("1000", r.figures().get("step 7 churn: torn down"));
  }
}
