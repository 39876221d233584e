package dev.csinode.simulator.brokendrivers;

import dev.csinode.csi.v1.NodeService;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.function.UnaryOperator;

/**
 * Test double base: the in-memory driver with its Node service wrapped to misbehave in one named way. A
 * {@link BundledDriver}, so the agent and the scenario engine run it as they run any driver.
 */
abstract class BrokenDriver implements BundledDriver {
  private final InMemoryDriver driver;

  BrokenDriver(InMemoryDriver.Options options, SimulatedMounts mounts, UnaryOperator<NodeService> breakage) {
    this.driver = new InMemoryDriver(options, mounts, breakage);
  }

  /** The in-memory driver underneath, for what it holds. */
  public InMemoryDriver inMemory() {
    return driver;
  }

  @Override
  public String name() {
    return driver.name();
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    return driver.start(vertx, endpoint, nodeName, stateDir);
  }
}
