package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.simulator.invariants.Invariants;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ShippedScenariosTest {
  static final List<String> SHIPPED = List.of("agent-crash-after-call", "attach-required", "block-volume", "churn",
      "driver-gone-at-restart", "driver-restart", "fs-group", "generic-ephemeral", "inline-ephemeral",
      "missing-vol-data", "node-scale", "orphaned-pod-dir", "publish-not-found", "pvc-lifecycle", "read-only",
      "reboot", "shared-claim", "stage-during-unstage", "stage-fails-then-recovers", "stage-timeout-pod-deleted",
      "stale-registration-sockets", "uncertain-publish", "unstage-fails-new-pod", "volume-limits");

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

  /**
   * What a scenario's head says fits what it does: check-driver skips a scenario by its requires, and the bundled
   * driver runs it with its driver.hostpath settings, so both must follow from the objects it applies and its steps.
   */
  @Test
  void everyShippedScenariosMetadataFitsWhatItDoes() throws ScenarioException, IOException {
    Set<String> hintKeys = new HashSet<>(ScenarioParser.KINDS.keySet());
    Invariants.all().forEach(i -> hintKeys.add(i.name()));
    hintKeys.add("cleanup");
    for (String name : ShippedScenarios.names()) {
      Scenario s = ShippedScenarios.load(name);
      String text = resource(name);
      assertTrue(text.contains("\nsuite: "), name + " says which suite runs it");
      assertTrue(hintKeys.containsAll(s.hints().keySet()), name + ": every hint is keyed by a step kind, an invariant or "
          + "cleanup: " + s.hints().keySet());
      List<HasMetadata> objects = objects(s);
      boolean claims = objects.stream().anyMatch(o -> o instanceof PersistentVolumeClaim) || objects.stream()
          .filter(o -> o instanceof Pod).map(o -> (Pod) o).filter(p -> p.getSpec().getVolumes() != null)
          .flatMap(p -> p.getSpec().getVolumes().stream())
          .anyMatch(v -> v.getEphemeral() != null);
      assertEquals(claims, s.requires().controller().contains("CREATE_DELETE_VOLUME"),
          name + ": a scenario provisions claims (a PersistentVolumeClaim, a generic ephemeral volume) exactly when it requires CREATE_DELETE_VOLUME");
      boolean attach = objects.stream().filter(o -> o instanceof CSIDriver).anyMatch(d -> !Boolean.FALSE.equals(((CSIDriver) d).getSpec().getAttachRequired()));
      assertEquals(attach, s.requires().controller().contains("PUBLISH_UNPUBLISH_VOLUME"),
          name + ": a CSIDriver with attachRequired exactly when it requires PUBLISH_UNPUBLISH_VOLUME");
      Scenario.HostpathOptions bundled = s.hostpathDriver() == null ? new Scenario.HostpathOptions(null, null) : s.hostpathDriver();
      assertEquals(attach, bundled.attach(), name + ": the bundled driver runs it with attachRequired exactly when it needs attach");
      assertEquals(s.requires().maxVolumesPerNode() == null ? 0 : s.requires().maxVolumesPerNode(), bundled.maxVolumes(),
          name + ": the bundled driver reports the max_volumes_per_node the scenario requires");
      boolean stages = s.steps().stream().map(ScenarioStep::step).anyMatch(st -> expectsCallOf(st, "NodeStageVolume")
          || expectsCallOf(st, "NodeUnstageVolume"));
      assertEquals(stages, s.requires().node().contains("STAGE_UNSTAGE_VOLUME"),
          name + ": a scenario expects NodeStageVolume or NodeUnstageVolume calls exactly when it requires STAGE_UNSTAGE_VOLUME");
      boolean realMounts = s.steps().stream().map(ScenarioStep::step).anyMatch(st -> st instanceof Step.WriteData
          || st instanceof Step.VerifyData || st instanceof Step.AssertVolume);
      assertFalse(realMounts && s.inMemoryDriver() != null, name + ": steps that read a volume's files need real mounts");
      assertFalse(s.inMemoryDriver() != null && s.hostpathDriver() != null, name + ": one default driver");
    }
  }

  /** Whether the step holds only when the node made a call of the method (a driver without it never gets one). */
  private static boolean expectsCallOf(Step step, String method) {
    if (step instanceof Step.AssertOrder o) {
      return o.methods().contains(method);
    }
    if (step instanceof Step.WaitCalls w) {
      return w.method().equals(method); // waits for such a call: never comes from a driver without the method
    }
    if (step instanceof Step.Assert a && a.calls() != null && a.calls().method().equals(method)) {
      Step.CallsAssert c = a.calls();
      return c.count() != null ? c.count() > 0 : c.min() != null && c.min() > 0;
    }
    return false;
  }

  private static List<HasMetadata> objects(Scenario s) {
    List<HasMetadata> out = new ArrayList<>();
    for (ScenarioStep st : s.steps()) {
      String text = st.step() instanceof Step.Apply a ? a.text() : st.step() instanceof Step.Pods p ? p.template()
          : st.step() instanceof Step.Churn c ? c.template() : null;
      if (text != null) {
        out.addAll(ManifestParser.parse(Path.of(s.origin()), ManifestTemplate.render(text, "driver.example.com", 0)).objects());
      }
    }
    return out;
  }

  private static String resource(String name) throws IOException {
    try (InputStream in = ShippedScenariosTest.class.getClassLoader().getResourceAsStream(ShippedScenarios.DIR + name + ".yaml")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Test
  void anUnknownNameIsRefusedWithTheShippedOnes() {
    ScenarioException e = assertThrows(ScenarioException.class, () -> ShippedScenarios.load("no-such"));
    assertTrue(e.getMessage().contains("no shipped scenario named \"no-such\"; shipped: " + String.join(", ", SHIPPED)), e.getMessage());
    assertFalse(ShippedScenarios.exists("../pom"));
  }
}
