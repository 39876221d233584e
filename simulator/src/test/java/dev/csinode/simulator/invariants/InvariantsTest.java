package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class InvariantsTest {
  @Test
  void everyRuleOnceWithItsName() {
    assertEquals(List.of("stage-before-publish", "no-unstage-while-published", "one-operation-per-volume", "kubelet-paths",
        "idempotent-repeat", "publish-mounts", "nothing-left-unwanted", "no-data-lost"),
        Invariants.all().stream().map(Invariant::name).toList());
    Invariants.all().forEach(i -> assertFalse(i.description().isBlank(), i.name()));
  }

  @Test
  void aCleanLifeBreaksNoRule() {
    TraceBuilder t = new TraceBuilder();
    var stage = t.stage("v1", 0, 10, "OK");
    t.probe(stage, 11, 12, "OK");
    var publish = t.publishMounted("v1", "0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", 20, 30, true);
    t.probe(publish, 31, 32, "OK");
    t.unpublish("v1", "0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", 40, 50, "OK");
    t.unstage("v1", 60, 70, "OK");
    for (Invariant rule : Invariants.all()) {
      assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), true), rule.name());
    }
  }
}
