package dev.csinode.testing;

import dev.csinode.grpc.GrpcCallException;
import io.vertx.core.Future;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Blocking helpers for tests: wait for a Vert.x future with an upper bound, unwrap its failure. */
public final class Await {
  private Await() {}

  public static <T> T result(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new RuntimeException(e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("future did not complete within 120 s", e);
    }
  }

  /** The gRPC failure of a call that must fail. */
  public static GrpcCallException failure(Future<?> f) {
    try {
      Object r = result(f);
      throw new AssertionError("call was expected to fail but returned " + r);
    } catch (GrpcCallException e) {
      return e;
    }
  }
}
