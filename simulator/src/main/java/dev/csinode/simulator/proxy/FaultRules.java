package dev.csinode.simulator.proxy;

/**
 * The fault rules in force, immutable; chosen per call in order, the first that matches applies. Probabilities draw
 * from a random source seeded by the scenario's seed, so a run is repeatable.
 */
public final class FaultRules {

  public static FaultRules none() {
    throw new UnsupportedOperationException("to be written");
  }
}
