package dev.csinode.simulator.driver;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A CSI driver whose volumes live in memory and whose mounts are entries in a {@link SimulatedMounts}: real gRPC on
 * a real UNIX socket, no mount(2), no root. For node-scale simulation; configurable latencies, failure rates,
 * capacity and volumes per node.
 */
public final class InMemoryDriver implements BundledDriver {
  /** Stand-in (engine branch) for the invariants helper's Options; the merge takes theirs. */
  public record Options(String name, Duration latency, Double failureRate, String capacity, Integer maxVolumesPerNode, Long seed) {}

  public InMemoryDriver(Options options, SimulatedMounts mounts) {
  }

  @Override
  public String name() {
    throw new UnsupportedOperationException("to be written");
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    throw new UnsupportedOperationException("to be written");
  }
}
