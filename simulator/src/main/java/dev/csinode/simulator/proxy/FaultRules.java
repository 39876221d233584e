package dev.csinode.simulator.proxy;

import java.util.List;

/**
 * The fault rules in force, immutable; chosen per call in order, the first that matches applies. Probabilities draw
 * from a random source seeded by the scenario's seed, so a run is repeatable.
 */
public final class FaultRules {

  public static FaultRules none() {
    throw new UnsupportedOperationException("to be written");
  }

  public static FaultRules of(List<FaultRule> rules, long seed) {
    throw new UnsupportedOperationException("to be written");
  }

  public FaultRules with(FaultRule... rules) {
    throw new UnsupportedOperationException("to be written");
  }

  public FaultRules without(String... names) {
    throw new UnsupportedOperationException("to be written");
  }
}
