package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ShippedScenariosTest {
  static final List<String> SHIPPED = List.of("agent-crash-after-call", "block-volume", "churn", "driver-gone-at-restart",
      "driver-restart", "inline-ephemeral", "missing-vol-data", "node-scale", "orphaned-pod-dir", "publish-not-found",
      "pvc-lifecycle", "reboot", "shared-claim", "stage-during-unstage", "stage-fails-then-recovers",
      "stage-timeout-pod-deleted", "stale-registration-sockets", "uncertain-publish", "unstage-fails-new-pod");

  @Test
  void everyShippedScenarioIsListedAndParses() throws ScenarioException {
    assertEquals(SHIPPED, ShippedScenarios.names());
    for (String name : SHIPPED) {
      Scenario s = ShippedScenarios.load(name);
      assertEquals(name, s.name(), "a shipped scenario's name is its file's");
      assertFalse(s.description().isBlank());
    }
  }

  @Test
  void theNodeScaleScenariosNeedNoRoot() throws ScenarioException {
    assertTrue(ShippedScenarios.load("churn").inMemoryDriver() != null);
    assertTrue(ShippedScenarios.load("node-scale").inMemoryDriver() != null);
  }

  @Test
  void anUnknownNameIsRefusedWithTheShippedOnes() {
    ScenarioException e = assertThrows(ScenarioException.class, () -> ShippedScenarios.load("no-such"));
    assertTrue(e.getMessage().contains("no shipped scenario named \"no-such\"; shipped: agent-crash-after-call, block-volume, churn"), e.getMessage());
    assertFalse(ShippedScenarios.exists("../pom"));
  }
}
