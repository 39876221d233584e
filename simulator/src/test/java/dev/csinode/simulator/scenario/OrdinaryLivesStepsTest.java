package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The steps and settings the ordinary-life scenarios brought (assert-volume, assert-order, wait-reason,
 * wait-provisioned, driver.hostpath): bound with their defaults, nonsense refused with its line.
 */
@Tag("unit")
class OrdinaryLivesStepsTest {
  private static final String HEAD = "name: t\ndescription: d\nsteps:\n";

  private static Scenario parse(String text) throws ScenarioException {
    return ScenarioParser.parse("test.yaml", text, relative -> {
      throw new NoSuchFileException(relative);
    });
  }

  private static String refused(String text) {
    return assertThrows(ScenarioException.class, () -> parse(text)).getMessage();
  }

  private static Step only(String step) throws ScenarioException {
    return parse(HEAD + step).steps().get(0).step();
  }

  @Test
  void theStepsBindWithTheirDefaults() throws ScenarioException {
    assertEquals(new Step.AssertVolume("default/a", "data", true, null), only("- assert-volume: {pod: default/a, volume: data, readOnly: true}\n"));
    assertEquals(new Step.AssertVolume("default/a", "data", null, 2000L), only("- assert-volume: {pod: default/a, volume: data, group: 2000}\n"));
    assertEquals(new Step.AssertOrder(List.of("ControllerPublishVolume", "NodeStageVolume"), null),
        only("- assert-order: {methods: [ControllerPublishVolume, NodeStageVolume]}\n"));
    assertEquals(new Step.AssertOrder(List.of("DeleteVolume"), "vol-1"), only("- assert-order: {methods: [DeleteVolume], volume: vol-1}\n"));
    assertEquals(new Step.WaitReason("default/c", "max_volumes_per_node", Duration.ofSeconds(60)),
        only("- wait-reason: {pod: default/c, text: max_volumes_per_node}\n"));
    assertEquals(new Step.WaitProvisioned("default/eph-scratch", "bound", Duration.ofSeconds(5)),
        only("- wait-provisioned: {claim: default/eph-scratch, state: bound, timeout: 5s}\n"));
    assertEquals(Duration.ofSeconds(60), ((Step.WaitProvisioned) only("- wait-provisioned: {claim: default/x, state: deleted}\n")).timeout());
  }

  @Test
  void nonsenseInTheStepsIsRefusedWithTheStepsLine() {
    String steps = HEAD + "- pause: 1s\n";
    assertEquals("test.yaml:5:3: assert-volume: give readOnly (true or false), group (a group id) or both",
        refused(steps + "- assert-volume: {pod: default/a, volume: data}\n"));
    assertTrue(refused(steps + "- assert-volume: {pod: default/a, volume: data, group: -1}\n")
        .startsWith("test.yaml:5:3: assert-volume: group must be a group id from 0 to 4294967294, not -1"));
    assertTrue(refused(steps + "- assert-volume: {pod: default/a, group: 5}\n").startsWith("test.yaml:5:3: assert-volume: volume is missing"));
    assertTrue(refused(steps + "- assert-volume: {pod: a, volume: v, readOnly: true}\n").contains("is not namespace/name"));
    assertTrue(refused(steps + "- assert-order: {methods: []}\n").startsWith("test.yaml:5:3: assert-order: methods is missing"));
    assertTrue(refused(steps + "- assert-order: {methods: [NodeStage]}\n")
        .startsWith("test.yaml:5:3: assert-order: \"NodeStage\" is not a CSI method; known: "));
    assertTrue(refused(steps + "- wait-reason: {pod: default/c}\n").startsWith("test.yaml:5:3: wait-reason: text is missing"));
    assertTrue(refused(steps + "- wait-reason: {pod: default/c, text: x, timeout: 0s}\n").contains("timeout must be a positive duration"));
    assertEquals("test.yaml:5:3: wait-provisioned: state must be bound or deleted, not \"gone\"",
        refused(steps + "- wait-provisioned: {claim: default/x, state: gone}\n"));
    assertTrue(refused(steps + "- wait-provisioned: {claim: default/x}\n").contains("state must be bound or deleted (it is missing)"));
    assertTrue(refused(steps + "- wait-provisioned: {claim: x, state: bound}\n")
        .startsWith("test.yaml:5:3: wait-provisioned: claim \"x\" is not namespace/name"));
  }

  @Test
  void theBundledDriversSettingsBindAndANegativeLimitIsRefusedWithItsLine() throws ScenarioException {
    Scenario s = parse("name: t\ndescription: d\ndriver:\n  hostpath: {maxVolumesPerNode: 2, attachRequired: true}\nsteps:\n- pause: 1s\n");
    assertEquals(new Scenario.HostpathOptions(2L, true), s.hostpathDriver());
    assertEquals(2, s.hostpathDriver().maxVolumes());
    assertTrue(s.hostpathDriver().attach());
    assertNull(parse(HEAD + "- pause: 1s\n").hostpathDriver());
    String m = refused("name: t\ndescription: d\ndriver:\n  hostpath:\n    maxVolumesPerNode: -1\nsteps:\n- pause: 1s\n");
    assertTrue(m.startsWith("test.yaml:5:"), m);
    assertTrue(m.contains("bad value for driver.hostpath.maxVolumesPerNode: must be 0 (no limit) or more, not -1"), m);
    assertTrue(refused("name: t\ndescription: d\ndriver:\n  hostpath: {maxVolumesPerNode: lots}\nsteps:\n- pause: 1s\n")
        .startsWith("test.yaml:4:"));
    assertTrue(refused("name: t\ndescription: d\ndriver:\n  hostpath: {attachRequired: maybe}\nsteps:\n- pause: 1s\n")
        .startsWith("test.yaml:4:"));
    assertTrue(refused("name: t\ndescription: d\ndriver:\n  hostpath: {maxVolumes: 2}\nsteps:\n- pause: 1s\n")
        .contains("unknown key \"maxVolumes\""));
  }
}
