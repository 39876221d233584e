package dev.csinode.simulator.report;

import dev.csinode.simulator.invariants.Violation;
import java.util.List;

/**
 * One check of a scenario: an assertion step or an invariant. Passed when {@code violations} is empty and
 * {@code failure} is null.
 *
 * @param name       e.g. "step 4 assert pod default/a Ready" or "invariant stage-before-publish"
 * @param kind       assertion or invariant
 * @param failure    why an assertion failed, or null
 * @param violations an invariant's breaches
 */
public record Check(String name, Kind kind, String failure, List<Violation> violations, long durationMillis) {
  public enum Kind { ASSERTION, INVARIANT }

  public Check {
    violations = List.copyOf(violations);
  }

  public boolean passed() {
    return failure == null && violations.isEmpty();
  }
}
