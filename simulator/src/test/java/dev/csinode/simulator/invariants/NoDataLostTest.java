package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class NoDataLostTest {
  final NoDataLost rule = new NoDataLost();

  static EndState end(EndState.DataCheck... checks) {
    return new EndState(TraceBuilder.ROOT, List.of(), Set.of(), List.of(checks));
  }

  @Test
  void holdsWhenTheDataReadsBackTheSame() {
    assertEquals(List.of(), rule.check(List.of(), end(new EndState.DataCheck("default/a", "data", "f", "step 5 verify-data", "ab", "ab")), true));
  }

  @Test
  void changedOrMissingDataIsAViolation() {
    List<Violation> v = rule.check(List.of(), end(
        new EndState.DataCheck("default/a", "data", "f", "step 5 verify-data", "ab", "cd"),
        new EndState.DataCheck("default/b", "data", "g", "step 6 verify-data", "ab", null)), true);
    assertEquals(2, v.size(), v.toString());
    assertEquals("no-data-lost", v.get(0).rule());
    assertTrue(v.get(0).message().contains("read back sha-256 cd"), v.get(0).message());
    assertTrue(v.get(1).message().contains("found it missing"), v.get(1).message());
  }
}
