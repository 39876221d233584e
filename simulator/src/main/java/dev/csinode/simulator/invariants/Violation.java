package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.List;

/** One breach of a named rule: on which volume (or null), what went wrong, and the calls around it. */
public record Violation(String rule, String volumeId, String message, List<CsiCall> around) {
  public Violation {
    around = List.copyOf(around);
  }
}
