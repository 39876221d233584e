package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class IdempotentRepeatTest {
  final IdempotentRepeat rule = new IdempotentRepeat();

  @Test
  void holdsWhenTheRepeatsAreAnsweredOk() {
    TraceBuilder t = new TraceBuilder();
    t.probe(t.stage("v1", 0, 10, "OK"), 11, 20, "OK");
    t.probe(t.publish("v1", "pod-a", 30, 40, "OK"), 41, 50, "OK");
    t.stage("v2", 60, 70, "INTERNAL"); // a failure of the node's own call is no repeat's business
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), true));
  }

  @Test
  void aRepeatAnsweredWithAnErrorIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.probe(t.stage("v1", 0, 10, "OK"), 11, 20, "ALREADY_EXISTS");
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(), true);
    assertEquals(1, v.size(), v.toString());
    assertEquals("idempotent-repeat", v.get(0).rule());
    assertEquals("v1", v.get(0).volumeId());
    assertTrue(v.get(0).message().contains("NodeStageVolume #2") && v.get(0).message().contains("NodeStageVolume #1 (OK)")
        && v.get(0).message().contains("ALREADY_EXISTS"), v.get(0).message());
    assertEquals(2, v.get(0).around().size());
  }

  @Test
  void aRepeatNeverAnsweredIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.probe(t.publish("v1", "pod-a", 0, 10, "OK"), 11, -1, null);
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(), true);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("never answered"), v.get(0).message());
  }
}
