package dev.csinode.agent.util;

import java.time.Duration;

/**
 * The kubelet's retry policy, shared by volume operations and the provisioner's calls: after the n-th failure in a
 * row the next try waits {@code initial * 2^(n-1)}, capped at {@code max} (500 ms to 2m2s by default).
 */
public record ExponentialBackoff(Duration initial, Duration max) {
  /** The wait after {@code failures} failures in a row (1 or more). */
  public Duration delay(int failures) {
    Duration d = initial;
    for (int i = 1; i < failures && d.compareTo(max) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(max) > 0 ? max : d;
  }
}
