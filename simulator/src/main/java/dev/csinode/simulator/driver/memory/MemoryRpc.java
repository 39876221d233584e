package dev.csinode.simulator.driver.memory;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the in-memory driver answers a call: after the configured latency (a timer, never a sleeping thread), fails a
 * node operation with UNAVAILABLE at the configured rate, and otherwise runs the body on the driver's workers (it
 * touches directories). Whether a call fails is drawn from the seed, the call's method and key (volume and path)
 * and how many times that key was called before: the same scenario fails the same calls however the calls
 * interleave.
 */
public final class MemoryRpc {
  private static final Logger LOG = LoggerFactory.getLogger(MemoryRpc.class);
  private final Vertx vertx;
  private final WorkerExecutor workers;
  private final long latencyMillis;
  private final double failureRate;
  private final long seed;
  private final ConcurrentHashMap<String, AtomicLong> attempts;

  public MemoryRpc(Vertx vertx, WorkerExecutor workers, Duration latency, double failureRate, long seed,
                   ConcurrentHashMap<String, AtomicLong> attempts) {
    this.vertx = vertx;
    this.workers = workers;
    this.latencyMillis = latency.isZero() ? 0 : Math.max(1, latency.toMillis());
    this.failureRate = failureRate;
    this.seed = seed;
    this.attempts = attempts;
  }

  /** A call that never fails by the failure rate (identity, controller, capabilities, info, stats). */
  public <T> Future<T> run(String method, Callable<T> body) {
    return delayed(() -> execute(method, body));
  }

  /** A node operation: may fail with UNAVAILABLE, before it does anything, at the failure rate. */
  public <T> Future<T> runNodeOperation(String method, String key, Callable<T> body) {
    return delayed(() -> {
      if (fails(method, key)) {
        LOG.debug("{} of {}: simulated transient failure", method, key);
        return Future.failedFuture(new StatusException(GrpcStatus.UNAVAILABLE, method + " of " + key
            + ": simulated transient failure of the in-memory driver (failureRate); retry"));
      }
      return execute(method, body);
    });
  }

  boolean fails(String method, String key) {
    if (failureRate <= 0) {
      return false;
    }
    String k = method + " " + key;
    long n = attempts.computeIfAbsent(k, x -> new AtomicLong()).getAndIncrement();
    long mixed = seed * 0x9E3779B97F4A7C15L + k.hashCode() * 0xBF58476D1CE4E5B9L + n;
    return new SplittableRandom(mixed).nextDouble() < failureRate;
  }

  private <T> Future<T> delayed(Supplier<Future<T>> call) {
    if (latencyMillis == 0) {
      return call.get();
    }
    Promise<T> done = Promise.promise();
    vertx.setTimer(latencyMillis, t -> call.get().onComplete(done));
    return done.future();
  }

  private <T> Future<T> execute(String method, Callable<T> body) {
    return workers.executeBlocking(() -> {
      try {
        return body.call();
      } catch (StatusException e) {
        throw e;
      } catch (Exception | Error e) {
        LOG.error("{} failed unexpectedly", method, e);
        throw new StatusException(GrpcStatus.INTERNAL, method + " failed: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      }
    }, false);
  }
}
