package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class StageBeforePublishTest {
  final StageBeforePublish rule = new StageBeforePublish();

  List<Violation> check(TraceBuilder t) {
    return rule.check(t.calls(), TraceBuilder.end(), true);
  }

  @Test
  void holdsForAStagedVolume() {
    assertEquals(List.of(), check(new TraceBuilder().life("v1", "pod-a", 0)));
  }

  @Test
  void holdsWhenAStageIsRetriedAfterFailing() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "UNAVAILABLE");
    t.stage("v1", 20, 30, "INTERNAL");
    t.stage("v1", 40, 50, "OK");
    t.publish("v1", "pod-a", 60, 70, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void holdsWhenAPublishIsRetriedAfterATimeout() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 2_000_000, "DEADLINE_EXCEEDED");
    t.publish("v1", "pod-a", 2_500_000, 2_500_100, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void holdsForADriverWithoutStaging() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodePublishVolume", "v1", null, TraceBuilder.target("pod-a", "pv-v1"), 0, 10, "OK");
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), false));
  }

  @Test
  void inlineVolumesAreNeverStaged() {
    String uid = "3c0b8a3e-8f4e-4b5e-9a55-2d1f6c1e7a10";
    String handle = "csi-" + KubeletPathPatterns.sha256(uid + "scratch");
    TraceBuilder t = new TraceBuilder();
    t.call("NodePublishVolume", handle, null, TraceBuilder.target(uid, "scratch"), 0, 10, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void aPublishWithoutStageIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.publish("v1", "pod-a", 0, 10, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertEquals("stage-before-publish", v.get(0).rule());
    assertEquals("v1", v.get(0).volumeId());
    assertTrue(v.get(0).message().contains("NodePublishVolume #1"), v.get(0).message());
    assertEquals(1, v.get(0).around().size());
  }

  @Test
  void aPublishWhileTheStageIsInFlightIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 100, "OK");
    t.publish("v1", "pod-a", 50, 150, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("NodeStageVolume #1"), v.get(0).message());
  }

  @Test
  void aPublishAfterOnlyFailedStagesIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "INTERNAL");
    t.publish("v1", "pod-a", 20, 30, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void aPublishAfterAnUnstageIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.unstage("v1", 20, 30, "OK");
    t.publish("v1", "pod-a", 40, 50, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("NodeUnstageVolume #2"), v.get(0).message());
  }

  @Test
  void aPublishWithAnotherStagingPathIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.call("NodePublishVolume", "v1", TraceBuilder.staging("v2"), TraceBuilder.target("pod-a", "pv-v1"), 20, 30, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains(TraceBuilder.staging("v2")), v.get(0).message());
  }

  @Test
  void theSimulatorsRepeatsAreNotTheNodes() {
    TraceBuilder t = new TraceBuilder();
    var stage = t.stage("v1", 0, 10, "OK");
    t.probe(stage, 11, 12, "OK");
    var publish = t.publish("v1", "pod-a", 20, 30, "OK");
    t.unstage("v1", 40, 50, "OK");
    t.probe(publish, 51, 52, "OK"); // after the unstage: judged as the node's publish, it would be a violation
    assertEquals(List.of(), check(t));
  }

  /** k/k#106729: an unstage that failed or timed out may have unstaged; only a fresh stage answered OK makes a publish right. */
  @Test
  void aPublishAfterAFailedOrUncertainUnstageNeedsAFreshStage() {
    for (String code : List.of("INTERNAL", "DEADLINE_EXCEEDED", "UNAVAILABLE")) {
      TraceBuilder t = new TraceBuilder();
      t.stage("v1", 0, 10, "OK");
      t.unstage("v1", 20, 30, code);
      t.publish("v1", "pod-b", 40, 50, "OK");
      assertEquals(1, check(t).size(), code);
      TraceBuilder fresh = new TraceBuilder();
      fresh.stage("v1", 0, 10, "OK");
      fresh.unstage("v1", 20, 30, code);
      fresh.stage("v1", 35, 38, "OK");
      fresh.publish("v1", "pod-b", 40, 50, "OK");
      assertEquals(List.of(), check(fresh), code);
    }
  }
}
