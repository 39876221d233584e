package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class NoUnstageWhilePublishedTest {
  final NoUnstageWhilePublished rule = new NoUnstageWhilePublished();

  List<Violation> check(TraceBuilder t) {
    return rule.check(t.calls(), TraceBuilder.end(), true);
  }

  @Test
  void holdsWhenEveryPublishIsUndoneFirst() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.publish("v1", "pod-b", 40, 50, "OK");
    t.unpublish("v1", "pod-a", 60, 70, "OK");
    t.unpublish("v1", "pod-b", 60, 75, "OK");
    t.unstage("v1", 80, 90, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void aPublishThatFailedForGoodDoesNotCount() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "INVALID_ARGUMENT");
    t.unstage("v1", 40, 50, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void anUnpublishRetriedUntilOkUndoesThePublish() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 50, "UNAVAILABLE");
    t.unpublish("v1", "pod-a", 60, 70, "OK");
    t.unstage("v1", 80, 90, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void anUnstageWhilePublishedIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unstage("v1", 40, 50, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertEquals("no-unstage-while-published", v.get(0).rule());
    assertEquals("v1", v.get(0).volumeId());
    assertTrue(v.get(0).message().contains("NodeUnstageVolume #3") && v.get(0).message().contains("NodePublishVolume #2"), v.get(0).message());
    assertEquals(3, v.get(0).around().size());
  }

  @Test
  void anUncertainPublishCountsAsPublished() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "DEADLINE_EXCEEDED");
    t.unstage("v1", 40, 50, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void aFailedUnpublishDoesNotUndoThePublish() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 50, "NOT_FOUND");
    t.unstage("v1", 60, 70, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void anotherPodStillPublishedIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.publish("v1", "pod-b", 40, 50, "OK");
    t.unpublish("v1", "pod-a", 60, 70, "OK");
    t.unstage("v1", 80, 90, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains(TraceBuilder.target("pod-b", "pv-v1")), v.get(0).message());
    assertFalse(v.get(0).message().contains(TraceBuilder.target("pod-a", "pv-v1")), v.get(0).message());
  }
}
