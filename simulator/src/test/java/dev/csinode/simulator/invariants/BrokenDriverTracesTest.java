package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The traces the deliberately broken test drivers (simulator/src/test/.../brokendrivers) produce under a node that
 * behaves as the kubelet does, with the simulator's repeats and mount checks: each breaks the rule named for it,
 * and only the rules that driver's fault explains.
 */
@Tag("unit")
class BrokenDriverTracesTest {
  static final String POD = "0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b";
  final Path staging = Path.of(TraceBuilder.staging("v1"));
  final Path target = Path.of(TraceBuilder.target(POD, "pv-v1"));

  /** Rule name to the number of its violations, for the rules with any. */
  static Map<String, Integer> broken(TraceBuilder t, EndState end) {
    Map<String, Integer> out = new TreeMap<>();
    for (Invariant rule : Invariants.all()) {
      int n = rule.check(t.calls(), end, true).size();
      if (n > 0) {
        out.put(rule.name(), n);
      }
    }
    return out;
  }

  @Test
  void nonIdempotentStage() {
    TraceBuilder t = new TraceBuilder();
    var stage = t.stage("v1", 0, 10, "OK");
    t.probe(stage, 11, 12, "ALREADY_EXISTS"); // the driver refuses the second stage of a staged volume
    var publish = t.publishMounted("v1", POD, 20, 30, true);
    t.probe(publish, 31, 32, "OK");
    t.unpublish("v1", POD, 40, 50, "OK");
    t.unstage("v1", 60, 70, "OK");
    assertEquals(Map.of("idempotent-repeat", 1), broken(t, TraceBuilder.end()));
  }

  @Test
  void publishWithoutMount() {
    TraceBuilder t = new TraceBuilder();
    t.probe(t.stage("v1", 0, 10, "OK"), 11, 12, "OK");
    var publish = t.publishMounted("v1", POD, 20, 30, false);
    t.probe(publish, 31, 32, "OK");
    assertEquals(Map.of("publish-mounts", 1), broken(t, TraceBuilder.end(List.of(staging), Set.of(staging, target))));
  }

  @Test
  void hangingStage() {
    // NodeStage does its work and never answers; the scenario ends (the pod deleted) before the node's deadline.
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, -1, null);
    assertEquals(Map.of("nothing-left-unwanted", 1), broken(t, TraceBuilder.end(List.of(staging), Set.of())));
  }

  @Test
  void hangingStageUnderANodeThatDoesNotWaitForIt() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, -1, null);
    t.unstage("v1", 5_000_000, 5_000_010, "OK");
    Map<String, Integer> broken = broken(t, TraceBuilder.end(List.of(), Set.of()));
    assertEquals(Set.of("one-operation-per-volume", "nothing-left-unwanted"), broken.keySet());
  }

  @Test
  void notFoundOnTeardown() {
    // The node retries the unpublish the driver answers NOT_FOUND for, until the scenario ends with the pod gone.
    TraceBuilder t = new TraceBuilder();
    t.probe(t.stage("v1", 0, 10, "OK"), 11, 12, "OK");
    t.probe(t.publishMounted("v1", POD, 20, 30, true), 31, 32, "OK");
    t.unpublish("v1", POD, 40, 50, "NOT_FOUND");
    t.unpublish("v1", POD, 600_000, 600_010, "NOT_FOUND");
    assertEquals(Map.of("nothing-left-unwanted", 2), broken(t, TraceBuilder.end(List.of(staging, target), Set.of())));
  }

  @Test
  void notFoundOnTeardownUnderANodeThatTakesItForDone() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publishMounted("v1", POD, 20, 30, true);
    t.unpublish("v1", POD, 40, 50, "NOT_FOUND");
    t.unstage("v1", 60, 70, "NOT_FOUND");
    Map<String, Integer> broken = broken(t, TraceBuilder.end(List.of(staging, target), Set.of()));
    assertEquals(Map.of("no-unstage-while-published", 1, "nothing-left-unwanted", 2), broken);
  }
}
