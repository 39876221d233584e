package dev.csinode.simulator.brokendrivers;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.scenario.ScenarioParser;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/**
 * Test main: the {@link NonIdempotentStageDriver} as a process of its own, for check-driver's command-driver tests.
 * Its mounts are entries in its own table (it is the in-memory driver underneath): nothing is mounted on the host.
 */
public final class NonIdempotentStageDriverMain {
  private NonIdempotentStageDriverMain() {}

  /** Arguments: socket path, state dir. Runs until killed. */
  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    new NonIdempotentStageDriver(ScenarioParser.inMemoryDefaults(), new SimulatedMounts())
        .start(vertx, new UnixEndpoint(Path.of(args[0])), "simulated-node", Path.of(args[1]))
        .toCompletionStage().toCompletableFuture().get();
    System.out.println("non-idempotent stage driver serving " + args[0]);
    Thread.currentThread().join();
  }
}
