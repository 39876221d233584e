package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class OneOperationPerVolumeTest {
  final OneOperationPerVolume rule = new OneOperationPerVolume();

  List<Violation> check(TraceBuilder t) {
    return rule.check(t.calls(), TraceBuilder.end(), true);
  }

  @Test
  void holdsForOneOperationAfterAnother() {
    assertEquals(List.of(), check(new TraceBuilder().life("v1", "pod-a", 0)));
  }

  @Test
  void unpublishesOfTwoPodsMayOverlap() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.publish("v1", "pod-b", 40, 50, "OK");
    t.unpublish("v1", "pod-a", 60, 100, "OK");
    t.unpublish("v1", "pod-b", 70, 90, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void aPublishRetriedAfterItsTimeoutIsNotAnOverlap() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 120_000_020, "DEADLINE_EXCEEDED");
    t.publish("v1", "pod-a", 120_500_000, 120_500_100, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void statsAndTheSimulatorsRepeatsAndOtherVolumesDoNotCount() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    var publish = t.publish("v1", "pod-a", 20, 100, "OK");
    t.call("NodeGetVolumeStats", "v1", null, TraceBuilder.target("pod-a", "pv-v1"), 30, 40, "OK");
    t.stage("v2", 30, 60, "OK");
    t.probe(publish, 101, 200, "OK");
    t.unpublish("v1", "pod-a", 150, 160, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void aStageOverlappingAPublishIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 100, "OK");
    t.publish("v1", "pod-a", 50, 150, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertEquals("one-operation-per-volume", v.get(0).rule());
    assertTrue(v.get(0).message().contains("NodePublishVolume #2") && v.get(0).message().contains("NodeStageVolume #1"), v.get(0).message());
  }

  @Test
  void twoUnpublishesOfOneTargetMayNotOverlap() {
    TraceBuilder t = new TraceBuilder();
    t.unpublish("v1", "pod-a", 0, 100, "OK");
    t.unpublish("v1", "pod-a", 50, 150, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void onePodsPublishMayNotOverlapAnotherPodsUnpublish() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 100, "OK");
    t.publish("v1", "pod-b", 50, 60, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void aCallWithoutAnswerIsInFlightToTheEnd() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, -1, null);
    t.unstage("v1", 10_000_000, 10_000_100, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("no answer"), v.get(0).message());
  }
}
