package dev.csinode.grpc;

import dev.csinode.logging.ControlCharacters;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Runs a long-lived service from a command's main thread until SIGTERM/SIGINT or until it ends itself.
 * The shutdown hook is installed before anything starts: a signal that arrives while the service is still
 * starting waits for the start, then stops it, so sockets are never left behind by an early signal.
 */
public final class Lifecycle {
  private Lifecycle() {}

  /**
   * @param start starts the service; yields the function that stops it
   * @param ended completes with an exit code when the service ends on its own (may be null)
   * @return the process exit code: 0 after a signal, the service's own code, or 1 when start failed
   */
  public static <T> int run(Vertx vertx, String name, Future<T> start, Function<T, Future<Void>> stop, Function<T, Future<Integer>> ended) {
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread hook = new Thread(() -> {
      exit.complete(0);
      stopAndClose(vertx, name, start, stop);
    }, name + "-shutdown");
    Runtime.getRuntime().addShutdownHook(hook);
    start.onFailure(err -> {
      System.err.println(name + ": " + ControlCharacters.escape(err.getMessage())); // may quote paths and names given to it
      exit.complete(1);
    });
    if (ended != null) {
      start.compose(ended::apply).onSuccess(exit::complete);
    }
    int code = exit.join();
    if (code != 0) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook); // ended on its own: stop here, not again in the hook
        stopAndClose(vertx, name, start, stop);
      } catch (IllegalStateException shuttingDown) {
        // a signal arrived meanwhile: the hook stops everything
      }
    }
    return code;
  }

  /**
   * Blocking waits on purpose: a callback chained after {@code vertx.close()} may be dispatched to the
   * instance that was just closed, and would never run.
   */
  private static <T> void stopAndClose(Vertx vertx, String name, Future<T> start, Function<T, Future<Void>> stop) {
    try {
      T service = wait(start);
      wait(stop.apply(service));
    } catch (Exception e) {
      if (start.succeeded()) {
        System.err.println(name + ": stop failed: " + ControlCharacters.escape(e.getMessage()));
      }
    }
    try {
      wait(vertx.close());
    } catch (Exception e) {
      System.err.println(name + ": closing failed: " + ControlCharacters.escape(e.getMessage()));
    }
  }

  private static <T> T wait(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }
}
