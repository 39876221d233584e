package dev.csinode.simulator.invariants;

import java.util.List;

/** Stand-in (engine branch) for the invariants helper's Invariants; the merge takes theirs. */
public final class Invariants {
  private Invariants() {}

  public static List<Invariant> all() {
    throw new UnsupportedOperationException("to be written");
  }
}
