package dev.csinode.simulator.checkdriver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ShippedScenarios;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ScenarioSelectionTest {
  private static final Scenario BASIC = Samples.scenario("basic-one", "suite: basic\n");
  private static final Scenario FULL = Samples.scenario("full-one", "suite: full\n");
  private static final Scenario SCALE = Samples.scenario("scale-one", "suite: scale\n");

  private static Map<String, String> decided(List<Scenario> scenarios, DriverCapabilities driver, Scenario.Suite suite) {
    Map<String, String> out = new LinkedHashMap<>();
    for (ScenarioSelection.Decision d : ScenarioSelection.of(scenarios, driver, suite, true)) {
      out.put(d.name(), d.runs() ? "RUN" : d.skipped());
    }
    return out;
  }

  @Test
  void theBasicSuiteRunsTheBasicScenariosTheFullOneBasicAndFullAndNeitherTheScaleOnes() {
    List<Scenario> all = List.of(SCALE, FULL, BASIC);
    assertEquals(Map.of("basic-one", "RUN", "full-one", "skipped: suite full (give --suite full)",
        "scale-one", "skipped: scale scenario, run it with simulate"), decided(all, Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC));
    assertEquals(Map.of("basic-one", "RUN", "full-one", "RUN", "scale-one", "skipped: scale scenario, run it with simulate"),
        decided(all, Samples.HOSTPATH_LIKE, Scenario.Suite.FULL));
    assertThrows(IllegalArgumentException.class, () -> ScenarioSelection.of(all, Samples.HOSTPATH_LIKE, Scenario.Suite.SCALE, true));
  }

  @Test
  void decisionsComeSortedByNameWhateverTheOrderGiven() {
    List<Scenario> given = new ArrayList<>(List.of(SCALE, BASIC, FULL));
    assertEquals(List.of("basic-one", "full-one", "scale-one"),
        ScenarioSelection.of(given, Samples.HOSTPATH_LIKE, Scenario.Suite.FULL, true).stream().map(ScenarioSelection.Decision::name).toList());
  }

  @Test
  void aMissingCapabilityIsNamedWithTheCallThatWouldHaveOfferedIt() {
    Scenario controller = Samples.scenario("needs-controller", "suite: basic\nrequires:\n  controller: [CREATE_DELETE_VOLUME]\n");
    Scenario node = Samples.scenario("needs-stage", "suite: basic\nrequires:\n  node: [STAGE_UNSTAGE_VOLUME]\n");
    Scenario plugin = Samples.scenario("needs-service", "suite: basic\nrequires:\n  plugin: [CONTROLLER_SERVICE]\n");
    Scenario two = Samples.scenario("needs-two", "suite: basic\nrequires:\n  controller: [CREATE_DELETE_VOLUME]\n  node: [GET_VOLUME_STATS]\n");
    List<Scenario> all = List.of(controller, node, plugin, two);
    assertEquals(Map.of(
        "needs-controller", "skipped: the driver does not offer CREATE_DELETE_VOLUME (ControllerGetCapabilities)",
        "needs-stage", "skipped: the driver does not offer STAGE_UNSTAGE_VOLUME (NodeGetCapabilities)",
        "needs-service", "skipped: the driver does not offer CONTROLLER_SERVICE (GetPluginCapabilities)",
        "needs-two", "skipped: the driver does not offer CREATE_DELETE_VOLUME (ControllerGetCapabilities), "
            + "GET_VOLUME_STATS (NodeGetCapabilities)"), decided(all, Samples.NODE_ONLY, Scenario.Suite.BASIC));
    Map<String, String> hostpath = decided(all, Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC);
    assertEquals("RUN", hostpath.get("needs-controller"));
    assertEquals("RUN", hostpath.get("needs-stage"));
    assertEquals("RUN", hostpath.get("needs-service"));
    assertEquals("skipped: the driver does not offer GET_VOLUME_STATS (NodeGetCapabilities)", hostpath.get("needs-two"));
  }

  @Test
  void aVolumeLimitScenarioRunsOnlyAgainstThatLimit() {
    Scenario limit = Samples.scenario("limit-two", "suite: basic\nrequires: {maxVolumesPerNode: 2}\n");
    assertEquals(Map.of("limit-two", "skipped: needs max_volumes_per_node 2, the driver reports 0"),
        decided(List.of(limit), Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC));
    DriverCapabilities two = new DriverCapabilities("x", "", Set.of(), Set.of(), Set.of(), 2, false);
    assertEquals(Map.of("limit-two", "RUN"), decided(List.of(limit), two, Scenario.Suite.BASIC));
    DriverCapabilities five = new DriverCapabilities("x", "", Set.of(), Set.of(), Set.of(), 5, false);
    assertEquals(Map.of("limit-two", "skipped: needs max_volumes_per_node 2, the driver reports 5"),
        decided(List.of(limit), five, Scenario.Suite.BASIC));
  }

  @Test
  void theSuiteIsDecidedBeforeTheCapabilities() {
    Scenario fullNeedsController = Samples.scenario("full-controller", "suite: full\nrequires:\n  controller: [CREATE_DELETE_VOLUME]\n");
    assertEquals(Map.of("full-controller", "skipped: suite full (give --suite full)"),
        decided(List.of(fullNeedsController), Samples.NODE_ONLY, Scenario.Suite.BASIC));
    assertEquals(Map.of("full-controller", "skipped: the driver does not offer CREATE_DELETE_VOLUME (ControllerGetCapabilities)"),
        decided(List.of(fullNeedsController), Samples.NODE_ONLY, Scenario.Suite.FULL));
  }

  @Test
  void againstADriverGivenByItsEndpointScenariosThatRestartItOrMoveDataThroughItsMountsAreSkipped() {
    Scenario restart = Samples.scenario("restarts", "suite: basic\n", "- restart-driver: {}\n");
    Scenario reboot = Samples.scenario("reboots", "suite: basic\n", "- apply: |\n    apiVersion: v1\n    kind: Pod\n"
        + "    metadata: {name: c, namespace: default}\n    spec:\n"
        + "      containers: [{name: app, image: busybox, volumeMounts: [{name: s, mountPath: /s}]}]\n"
        + "      volumes: [{name: s, csi: {driver: \"{{driver}}\"}}]\n"
        + "- write-data: {pod: default/c, volume: s, file: f, size: 1Ki}\n- reboot: {}\n");
    Scenario data = Samples.scenario("writes", "suite: basic\n",
        "- apply: |\n    apiVersion: v1\n    kind: Pod\n    metadata: {name: b, namespace: default}\n    spec:\n"
            + "      containers: [{name: app, image: busybox, volumeMounts: [{name: s, mountPath: /s}]}]\n"
            + "      volumes: [{name: s, csi: {driver: \"{{driver}}\"}}]\n"
            + "- write-data: {pod: default/b, volume: s, file: f, size: 1Ki}\n");
    List<Scenario> all = List.of(restart, reboot, data, BASIC, FULL);
    Map<String, String> endpoint = new LinkedHashMap<>();
    for (ScenarioSelection.Decision d : ScenarioSelection.of(all, Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, false)) {
      endpoint.put(d.name(), d.runs() ? "RUN" : d.skipped());
    }
    assertEquals(Map.of(
        "restarts", "skipped: restarts the driver (restart-driver), which needs the driver as --driver-command",
        "reboots", "skipped: restarts the driver (reboot), which needs the driver as --driver-command", // before its data
        "writes", "skipped: reads and writes data through the pod's volume (write-data), which needs the driver's mounts here: "
            + "give the driver as --driver-command",
        "basic-one", "RUN",
        "full-one", "skipped: suite full (give --suite full)"), endpoint);
    assertEquals(Map.of("restarts", "RUN", "reboots", "RUN", "writes", "RUN", "basic-one", "RUN",
        "full-one", "skipped: suite full (give --suite full)"), decided(all, Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC));
  }

  @Test
  void everyShippedScenarioGetsADecisionAndTheScaleOnesNeverRun() throws ScenarioException {
    List<Scenario> shipped = checkDriver(List.of()).scenarios();
    assertEquals(ShippedScenarios.names(), shipped.stream().map(Scenario::name).toList());
    for (Scenario s : shipped) {
      // A driver offering exactly what the scenario requires: it runs unless it is a scale scenario.
      Scenario.Requirements r = s.requires();
      DriverCapabilities fits = new DriverCapabilities("d.example.com", "1", Set.copyOf(r.plugin()), Set.copyOf(r.controller()),
          Set.copyOf(r.node()), r.maxVolumesPerNode() == null ? 0 : r.maxVolumesPerNode(), !r.controller().isEmpty());
      ScenarioSelection.Decision d = ScenarioSelection.of(List.of(s), fits, Scenario.Suite.FULL, true).get(0);
      assertEquals(s.suite() == Scenario.Suite.SCALE, !d.runs(), d.name() + ": " + d.skipped());
    }
  }

  @Test
  void theScenarioFilterTakesShippedNamesOnlyAndRefusesOthersNamingTheShippedOnes() throws ScenarioException {
    String first = ShippedScenarios.names().get(0);
    assertEquals(List.of(first), checkDriver(List.of(first, first)).scenarios().stream().map(Scenario::name).toList());
    ScenarioException e = assertThrows(ScenarioException.class, () -> checkDriver(List.of(first, "no-such-scenario")).scenarios());
    assertTrue(e.getMessage().startsWith("no shipped scenario named \"no-such-scenario\"; shipped: " + first), e.getMessage());
    assertThrows(ScenarioException.class, () -> checkDriver(List.of("../scenarios/" + first)).scenarios());
  }

  private static CheckDriver checkDriver(List<String> only) {
    return new CheckDriver(new CheckDriver.Options(new DriverUnderTest.Command(List.of("true")), Scenario.Suite.BASIC, only,
        Path.of("/nonexistent-work"), Duration.ofSeconds(1)));
  }
}
