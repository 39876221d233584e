package dev.csinode.agent.util;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class LogOnceTest {
  @Test
  void aRepeatedProblemIsLoggedWhenItAppearsAndWhenItChanges() {
    List<String> lines = new ArrayList<>();
    LogOnce log = new LogOnce((key, message) -> lines.add(key + ": " + message));
    for (int i = 0; i < 1000; i++) {
      log.log("claim-a", "RESOURCE_EXHAUSTED: no capacity");
      log.log("claim-b", "StorageClass x does not exist");
    }
    assertEquals(List.of("claim-a: RESOURCE_EXHAUSTED: no capacity", "claim-b: StorageClass x does not exist"), lines);
    assertTrue(log.log("claim-a", "UNAVAILABLE: driver gone"), "a changed message is logged");
    assertFalse(log.log("claim-a", "UNAVAILABLE: driver gone"));
    assertTrue(log.resolved("claim-a"));
    assertFalse(log.resolved("claim-a"));
    assertTrue(log.log("claim-a", "UNAVAILABLE: driver gone"), "a problem that comes back after it was resolved is logged again");
    log.retain(k -> !k.equals("claim-b"));
    assertEquals(1, log.size());
    assertTrue(log.log("claim-b", "StorageClass x does not exist"), "a forgotten key is new again");
    assertEquals(5, log.lines());
    assertEquals(5, lines.size());
  }
}
