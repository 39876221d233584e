package dev.csinode.agent.provisioner;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * The volume operations' retry policy for the provisioner's CreateVolume and DeleteVolume calls: after the n-th
 * failure in a row on a key, the next try waits {@code initial * 2^(n-1)}, capped at {@code max} (the agent's
 * --backoff-initial and --backoff-max, 500 ms to 2m2s by default, as the kubelet's). Without it a driver out of
 * capacity was asked again on every evaluation: thousands of calls a second. Not thread-safe: one context.
 */
final class RetryBackoff {
  /** The last failure on a key: which driver answered, what, how many times in a row, and when to try again. */
  record Failure(String driver, String error, int failures, long notBeforeMillis) {}

  private final dev.csinode.agent.util.ExponentialBackoff policy;
  private final LongSupplier clock;
  private final Map<String, Failure> failures = new HashMap<>();

  RetryBackoff(Duration initial, Duration max, LongSupplier clock) {
    this.policy = new dev.csinode.agent.util.ExponentialBackoff(initial, max);
    this.clock = clock;
  }

  /** Records a failure; returns it, with the time of the next try. */
  Failure failed(String key, String driver, String error) {
    Failure last = failures.get(key);
    int n = last == null ? 1 : last.failures() + 1;
    Failure f = new Failure(driver, error, n, clock.getAsLong() + delay(n).toMillis());
    failures.put(key, f);
    return f;
  }

  Duration delay(int failures) {
    return policy.delay(failures);
  }

  /** The failure that holds the key back now, if any. */
  Optional<Failure> waiting(String key) {
    Failure f = failures.get(key);
    return f != null && clock.getAsLong() < f.notBeforeMillis() ? Optional.of(f) : Optional.empty();
  }

  Optional<Failure> last(String key) {
    return Optional.ofNullable(failures.get(key));
  }

  void succeeded(String key) {
    failures.remove(key);
  }

  /**
   * Keys whose last failure came from this driver start over (try at once, then the initial delay): the driver
   * registered or turned healthy again, and a wait of up to two minutes for it would be for nothing.
   */
  int reset(String driver) {
    int before = failures.size();
    failures.values().removeIf(f -> driver.equals(f.driver()));
    return before - failures.size();
  }

  void retain(Predicate<String> keep) {
    failures.keySet().removeIf(k -> !keep.test(k));
  }

  long now() {
    return clock.getAsLong();
  }
}
