package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class PublishMountsTest {
  final PublishMounts rule = new PublishMounts();

  @Test
  void holdsWhenThePublishMountedOrWasNotLookedAt() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publishMounted("v1", "pod-a", 20, 30, true);
    t.publishMounted("v1", "pod-b", 40, 50, null);
    t.publish("v1", "pod-c", 60, 70, "INTERNAL");
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), true));
  }

  @Test
  void anOkPublishThatMountedNothingIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publishMounted("v1", "pod-a", 20, 30, false);
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(), true);
    assertEquals(1, v.size(), v.toString());
    assertEquals("publish-mounts", v.get(0).rule());
    assertTrue(v.get(0).message().contains("NodePublishVolume #2") && v.get(0).message().contains(TraceBuilder.target("pod-a", "pv-v1")),
        v.get(0).message());
  }
}
