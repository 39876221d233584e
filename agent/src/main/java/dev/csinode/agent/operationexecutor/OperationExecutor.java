package dev.csinode.agent.operationexecutor;

import dev.csinode.agent.util.ExponentialBackoff;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts volume operations with the kubelet's rules, improved: at most one operation per key (see
 * {@link OperationKey}), at most {@code maxParallel} at once, and after a failure the same operation on the
 * same key waits an exponential backoff (initial, doubling, capped); a different operation on the key starts
 * at once. A failure caused by the driver being away (see {@link OperationException#unavailableDriver()}) waits
 * only until {@link #driverAvailable} says the driver is back. Not thread-safe: used from the reconciler's
 * context only.
 */
public final class OperationExecutor {
  private static final Logger LOG = LoggerFactory.getLogger(OperationExecutor.class);
  /**
   * The last failure of an operation on a key, and when it may run again; {@code waitsForDriver} names the driver
   * whose absence caused it (empty otherwise): its return ends the backoff.
   */
  public record Failure(String operation, String error, int failures, long notBeforeMillis, String waitsForDriver) {}

  private final int maxParallel;
  /** Replaced whole by a reload (SIGHUP); read on the volume manager's context. */
  private volatile ExponentialBackoff backoff;
  private final LongSupplier clock;
  /** The running keys by volume: a conflict check looks at one volume's operations, not at all of them. */
  private final Map<String, Set<OperationKey>> runningByVolume = new HashMap<>();
  private int runningCount;
  private Observer observer = (operation, plugin, success, seconds) -> { };
  private final Map<OperationKey, Failure> failures = new HashMap<>();
  /** Counts {@link #driverAvailable} calls; per driver, the count at its last return. */
  private long availabilityEvents;
  private final Map<String, Long> availableAtEvent = new HashMap<>();

  /** Hears of every finished operation, for {@code storage_operation_duration_seconds}. */
  public interface Observer {
    void finished(String operation, String volumePlugin, boolean success, double seconds);
  }

  public OperationExecutor(int maxParallel, Duration initialBackoff, Duration maxBackoff, LongSupplier clock) {
    this.maxParallel = maxParallel;
    this.backoff = new ExponentialBackoff(initialBackoff, maxBackoff);
    this.clock = clock;
  }

  /** New backoff bounds (a reload): failures from now on wait by them; waits already scheduled keep theirs. */
  public void backoff(Duration initial, Duration max) {
    this.backoff = new ExponentialBackoff(initial, max);
  }

  public void observe(Observer o) {
    this.observer = o;
  }

  /** What keeps an operation from starting now. */
  private enum Obstacle { NONE, SAME_VOLUME, BACKOFF, LIMIT }

  private Obstacle obstacle(OperationKey key, String operation) {
    Set<OperationKey> sameVolume = runningByVolume.get(key.volume());
    if (sameVolume != null) {
      for (OperationKey k : sameVolume) {
        if (key.conflictsWith(k)) {
          return Obstacle.SAME_VOLUME;
        }
      }
    }
    Failure f = failures.get(key);
    if (f != null && f.operation().equals(operation) && clock.getAsLong() < f.notBeforeMillis()) {
      return Obstacle.BACKOFF;
    }
    return runningCount < maxParallel ? Obstacle.NONE : Obstacle.LIMIT;
  }

  /**
   * Whether the operation may start now: {@link #blocked} without its message, which a reconciler pass, asking for
   * every volume still waiting each time, does not need.
   */
  public boolean mayStart(OperationKey key, String operation) {
    return obstacle(key, operation) == Obstacle.NONE;
  }

  /** Why the operation cannot start now, or empty when it can. */
  public Optional<String> blocked(OperationKey key, String operation) {
    return switch (obstacle(key, operation)) {
      case NONE -> Optional.empty();
      case SAME_VOLUME -> Optional.of("another operation on " + key + " is in progress");
      case BACKOFF -> Optional.of("in backoff after: " + failures.get(key).error());
      case LIMIT -> Optional.of("the limit of " + maxParallel + " parallel operations is reached");
    };
  }

  /**
   * Starts the operation unless blocked. {@code done} runs after it completes (success or failure), with
   * the key released and the backoff recorded, so the caller can look for more work.
   */
  public boolean tryRun(OperationKey key, String operation, Supplier<Future<Void>> op, Runnable done) {
    return tryRun(key, operation, "", op, done);
  }

  /** As {@link #tryRun(OperationKey, String, Supplier, Runnable)}, naming the volume plugin for metrics. */
  public boolean tryRun(OperationKey key, String operation, String volumePlugin, Supplier<Future<Void>> op, Runnable done) {
    if (!mayStart(key, operation)) {
      return false;
    }
    long start = System.nanoTime();
    long eventsAtStart = availabilityEvents;
    runningCount++;
    runningByVolume.computeIfAbsent(key.volume(), v -> new HashSet<>()).add(key);
    Future<Void> f;
    try {
      f = op.get();
    } catch (RuntimeException e) {
      f = Future.failedFuture(e);
    }
    f.onComplete(ar -> {
      runningCount--;
      runningByVolume.computeIfPresent(key.volume(), (v, keys) -> keys.remove(key) && keys.isEmpty() ? null : keys);
      observer.finished(operation, volumePlugin, ar.succeeded(), (System.nanoTime() - start) / 1e9);
      if (ar.succeeded()) {
        Failure was = failures.remove(key);
        if (was != null) {
          LOG.info("{} of {} succeeded after {} failed attempt(s)", operation, key, was.failures());
        }
      } else {
        Failure last = failures.get(key);
        int n = last != null && last.operation().equals(operation) ? last.failures() + 1 : 1;
        long delay = backoff(n).toMillis();
        String away = ar.cause() instanceof OperationException oe ? oe.unavailableDriver() : "";
        if (!away.isEmpty() && availableAtEvent.getOrDefault(away, 0L) > eventsAtStart) {
          delay = 0; // the driver came back while this ran, so its return found no failure to end: due now
        }
        String error = message(ar.cause());
        failures.put(key, new Failure(operation, error, n, clock.getAsLong() + delay, away));
        // Logged when it first appears and when it changes; the retries in between are in status and metrics.
        if (last == null || !last.operation().equals(operation) || !last.error().equals(error)) {
          LOG.warn("{} of {} failed (next try in {} ms; logged again only when the error changes): {}", operation, key, delay, error);
        } else {
          LOG.debug("{} of {} failed again (attempt {}, next try in {} ms): {}", operation, key, n, delay, error);
        }
      }
      done.run();
    });
    return true;
  }

  Duration backoff(int failures) {
    return backoff.delay(failures);
  }

  /**
   * The driver registered or turned healthy again: operations that failed because it was away may run at once,
   * their backoff starting afresh if they fail again. Returns how many became due.
   */
  public int driverAvailable(String driver) {
    availableAtEvent.put(driver, ++availabilityEvents);
    int due = 0;
    for (var it = failures.values().iterator(); it.hasNext(); ) {
      if (it.next().waitsForDriver().equals(driver)) {
        it.remove();
        due++;
      }
    }
    return due;
  }

  /** Every key's last failure (a copy). */
  public Map<OperationKey, Failure> failures() {
    return Map.copyOf(failures);
  }

  public Optional<Failure> lastFailure(OperationKey key) {
    return Optional.ofNullable(failures.get(key));
  }

  /** Forgets the failures of keys that no longer matter; running keys keep theirs until they finish. */
  public void retainFailures(Predicate<OperationKey> matters) {
    failures.keySet().removeIf(k -> !isRunning(k) && !matters.test(k));
  }

  /** Forgets backoff state of keys that no longer matter (the pod or volume is gone). */
  public void forget(OperationKey key) {
    failures.remove(key);
  }

  public boolean isRunning(OperationKey key) {
    return runningByVolume.getOrDefault(key.volume(), Set.of()).contains(key);
  }

  /** The keys with an operation running now (a copy), for status: a volume being set up is not "uncertain". */
  public Set<OperationKey> running() {
    Set<OperationKey> out = new HashSet<>();
    runningByVolume.values().forEach(out::addAll);
    return Set.copyOf(out);
  }

  public int runningCount() {
    return runningCount;
  }

  /** The earliest time a failed operation may run again, to schedule the next reconcile; 0 when none waits. */
  public long nextRetryAtMillis() {
    return failures.values().stream().mapToLong(Failure::notBeforeMillis).filter(t -> t > clock.getAsLong()).min().orElse(0);
  }

  private static String message(Throwable t) {
    return t.getMessage() == null ? t.toString() : t.getMessage();
  }
}
