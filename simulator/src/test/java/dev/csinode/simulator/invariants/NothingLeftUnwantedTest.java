package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class NothingLeftUnwantedTest {
  final NothingLeftUnwanted rule = new NothingLeftUnwanted();
  final Path staging = Path.of(TraceBuilder.staging("v1"));
  final Path target = Path.of(TraceBuilder.target("pod-a", "pv-v1"));

  @Test
  void holdsWhenEverythingWasTornDown() {
    TraceBuilder t = new TraceBuilder().life("v1", "pod-a", 0);
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), true));
  }

  @Test
  void holdsWhenWhatIsLeftIsWanted() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(List.of(staging, target), Set.of(staging, target)), true));
  }

  @Test
  void holdsWhenAFailedTeardownWasRetriedUntilOk() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 50, "UNAVAILABLE");
    t.unpublish("v1", "pod-a", 60, 70, "OK");
    t.unstage("v1", 80, 90, "DEADLINE_EXCEEDED");
    t.unstage("v1", 100, 110, "OK");
    assertEquals(List.of(), rule.check(t.calls(), TraceBuilder.end(), true));
  }

  @Test
  void aVolumeLeftPublishedIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 50, "NOT_FOUND");
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(List.of(staging, target), Set.of(staging)), true);
    assertEquals(1, v.size(), v.toString());
    assertEquals("nothing-left-unwanted", v.get(0).rule());
    assertEquals("v1", v.get(0).volumeId());
    assertTrue(v.get(0).message().contains("still published at " + target) && v.get(0).message().contains("still mounted"),
        v.get(0).message());
    assertEquals(3, v.get(0).around().size());
  }

  @Test
  void aMountNoCallExplainsIsAViolation() {
    Path stray = TraceBuilder.ROOT.resolve("pods/uid-9/volumes/kubernetes.io~csi/pv-9/mount");
    List<Violation> v = rule.check(List.of(), TraceBuilder.end(List.of(stray), Set.of()), true);
    assertEquals(1, v.size(), v.toString());
    assertNull(v.get(0).volumeId());
    assertTrue(v.get(0).message().contains(stray + " is still mounted"), v.get(0).message());
  }

  @Test
  void aStagedVolumeNoPodWantsIsAViolationEvenWhenNotMounted() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(), true);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("still staged at " + staging), v.get(0).message());
  }

  @Test
  void aStageStillWithoutAnswerAtTheEndIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, -1, null);
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(), true);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("may still be staged at " + staging) && v.get(0).message().contains("no answer"),
        v.get(0).message());
  }

  @Test
  void anUnpublishThatTimedOutLastIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.stage("v1", 0, 10, "OK");
    t.publish("v1", "pod-a", 20, 30, "OK");
    t.unpublish("v1", "pod-a", 40, 50, "DEADLINE_EXCEEDED");
    List<Violation> v = rule.check(t.calls(), TraceBuilder.end(List.of(), Set.of(staging)), true);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("may still be published at " + target), v.get(0).message());
  }
}
