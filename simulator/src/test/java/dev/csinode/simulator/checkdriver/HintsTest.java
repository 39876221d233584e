package dev.csinode.simulator.checkdriver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.csinode.simulator.invariants.IdempotentRepeat;
import dev.csinode.simulator.invariants.Invariant;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.invariants.PublishMounts;
import dev.csinode.simulator.scenario.Scenario;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class HintsTest {
  private static final Scenario PLAIN = Samples.scenario("plain", "suite: basic\n");
  private static final Scenario OWN = Samples.scenario("own", """
      suite: basic
      hints:
        idempotent-repeat: "own idempotency hint"
        wait-gone: "own wait-gone hint"
        cleanup: "own cleanup hint"
      """);

  @Test
  void everyInvariantHasAHintOfItsOwnAndItIsTheDefaultForItsFailure() {
    for (Invariant inv : Invariants.all()) {
      assertNotNull(inv.hint(), inv.name());
      assertFalse(inv.hint().isBlank(), inv.name());
      assertEquals(inv.hint(), Hints.of(PLAIN, Samples.failed("invariant " + inv.name(), "broken")), inv.name());
    }
    assertEquals("CSI spec: NodeStageVolume/NodePublishVolume must answer OK when repeated with the same arguments",
        new IdempotentRepeat().hint());
  }

  @Test
  void theScenariosOwnHintWinsByInvariantNameStepKindOrCleanup() {
    assertEquals("own idempotency hint", Hints.of(OWN, Samples.failed("invariant idempotent-repeat", "x")));
    assertEquals("own wait-gone hint", Hints.of(OWN, Samples.failed("step 4 wait-gone default/a", "x")));
    assertEquals("own cleanup hint", Hints.of(OWN, Samples.failed("cleanup leaves nothing behind", "x")));
    // Not given by the scenario: the built-in ones.
    assertEquals(new PublishMounts().hint(),
        Hints.of(OWN, Samples.failed("invariant publish-mounts", "x")));
    assertEquals(Hints.of(PLAIN, Samples.failed("step 2 wait-ready default/a", "x")),
        Hints.of(OWN, Samples.failed("step 2 wait-ready default/a", "x")));
  }

  @Test
  void stepKindsWaitReadyWaitGoneAndTheCleanupHaveBuiltInHints() {
    String ready = Hints.of(PLAIN, Samples.failed("step 2 wait-ready default/a", "timed out"));
    String gone = Hints.of(PLAIN, Samples.failed("step 4 wait-gone default/a", "timed out"));
    String cleanup = Hints.of(PLAIN, Samples.failed("cleanup leaves nothing behind", "left a mount"));
    assertNotNull(ready);
    assertNotNull(gone);
    assertNotNull(cleanup);
    assertEquals(3, Set.of(ready, gone, cleanup).size(), "each its own");
  }

  @Test
  void theStepKindComesFromTheStepTheCheckNumbers() {
    assertEquals("wait-gone", Hints.key(PLAIN, "step 4 wait-gone default/a"));
    assertEquals("wait-ready", Hints.key(PLAIN, "step 2 wait-ready default/a"));
    assertEquals("idempotent-repeat", Hints.key(PLAIN, "invariant idempotent-repeat"));
    assertEquals("cleanup", Hints.key(PLAIN, "cleanup leaves nothing behind"));
    assertNull(Hints.key(PLAIN, "something else"));
  }

  @Test
  void aCheckWithoutAnyHintGetsNone() {
    assertNull(Hints.of(PLAIN, Samples.failed("step 3 delete default/a", "x")));
    assertNull(Hints.of(PLAIN, Samples.failed("invariant no-such-rule", "x")));
    assertNull(Hints.of(PLAIN, Samples.failed("something else", "x")));
  }
}
