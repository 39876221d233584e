package dev.csinode.simulator.driver;

import dev.csinode.agent.provisioner.Quantities;
import dev.csinode.csi.v1.ControllerGrpcService;
import dev.csinode.csi.v1.IdentityGrpcService;
import dev.csinode.csi.v1.NodeGrpcService;
import dev.csinode.csi.v1.NodeService;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.memory.MemoryController;
import dev.csinode.simulator.driver.memory.MemoryIdentity;
import dev.csinode.simulator.driver.memory.MemoryNode;
import dev.csinode.simulator.driver.memory.MemoryRpc;
import dev.csinode.simulator.driver.memory.MemoryState;
import dev.csinode.util.GoDuration;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.grpc.server.Service;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A CSI driver whose volumes live in memory and whose mounts are entries in a {@link SimulatedMounts}: real gRPC on
 * a real UNIX socket, no mount(2), no root. For node-scale simulation; configurable latencies, failure rates,
 * capacity and volumes per node. Its state (volumes, where they are staged and published) belongs to this object
 * and survives {@link Running#stop()} and a new {@link #start}, as a real driver's state on disk survives the
 * driver's restart; a simulated reboot ({@link SimulatedMounts#clear()}) takes only the mounts, and the next stage
 * or publish mounts again.
 */
public final class InMemoryDriver implements BundledDriver {
  private static final Logger LOG = LoggerFactory.getLogger(InMemoryDriver.class);
  /** Calls served at once; each takes microseconds. */
  private static final int WORKERS = 8;
  private static final AtomicInteger STARTS = new AtomicInteger();

  /**
   * How the in-memory driver behaves; bound from a scenario's {@code driver: {inMemory: {...}}}. A missing field takes
   * its default; a bad value is refused with a message naming the field.
   *
   * @param name              the CSI driver name [memory.csinode.dev]
   * @param latency           added to every call, a Go duration such as 2ms [0s]
   * @param failureRate       fraction of node operations (stage, unstage, publish, unpublish) answered UNAVAILABLE
   *                          before doing anything, 0 to 1 [0]
   * @param capacity          total size of the volumes it holds, a Kubernetes quantity [1Ti]; beyond it CreateVolume
   *                          answers RESOURCE_EXHAUSTED
   * @param maxVolumesPerNode NodeGetInfo's max_volumes_per_node, and a stage beyond it answers RESOURCE_EXHAUSTED;
   *                          0 is no limit [0]
   * @param seed              which calls the failure rate fails [0]; the same seed fails the same calls
   */
  public record Options(String name, String latency, Double failureRate, String capacity, Long maxVolumesPerNode, Long seed) {
    public static final String DEFAULT_NAME = "memory.csinode.dev";
    private static final Pattern DRIVER_NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?");

    public Options {
      name = name == null ? DEFAULT_NAME : name;
      if (!DRIVER_NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("name '" + name + "' is not a CSI driver name (at most 63 characters: letters, "
            + "digits, '-' and '.', starting and ending with a letter or digit)");
      }
      latency = latency == null ? "0s" : latency;
      try {
        GoDuration.parse(latency);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("latency " + e.getMessage(), e);
      }
      failureRate = failureRate == null ? 0.0 : failureRate;
      if (!(failureRate >= 0 && failureRate <= 1)) {
        throw new IllegalArgumentException("failureRate " + failureRate + " is not between 0 and 1");
      }
      capacity = capacity == null ? "1Ti" : capacity;
      try {
        Quantities.bytes(capacity);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("capacity " + e.getMessage(), e);
      }
      maxVolumesPerNode = maxVolumesPerNode == null ? 0L : maxVolumesPerNode;
      if (maxVolumesPerNode < 0) {
        throw new IllegalArgumentException("maxVolumesPerNode " + maxVolumesPerNode + " is negative; 0 means no limit");
      }
      seed = seed == null ? 0L : seed;
    }

    public static Options defaults() {
      return new Options(null, null, null, null, null, null);
    }

    public Duration latencyDuration() {
      return GoDuration.parse(latency);
    }

    public long capacityBytes() {
      return Quantities.bytes(capacity);
    }

    /** These options with another seed (a scenario's --seed, when the driver's options give none of their own). */
    public Options withSeed(long newSeed) {
      return new Options(name, latency, failureRate, capacity, maxVolumesPerNode, newSeed);
    }
  }

  private final Options options;
  private final SimulatedMounts mounts;
  private final UnaryOperator<NodeService> nodeWrapper;
  private final MemoryState state = new MemoryState();
  /** Per call key, how many times it was called: the failure draws continue across restarts. */
  private final ConcurrentHashMap<String, AtomicLong> attempts = new ConcurrentHashMap<>();

  public InMemoryDriver(Options options, SimulatedMounts mounts) {
    this(options, mounts, UnaryOperator.identity());
  }

  /**
   * @param nodeWrapper what serves the Node service, given the driver's own: the identity for this driver; test
   *                    doubles of broken drivers wrap it to misbehave on purpose
   */
  public InMemoryDriver(Options options, SimulatedMounts mounts, UnaryOperator<NodeService> nodeWrapper) {
    this.options = options;
    this.mounts = mounts;
    this.nodeWrapper = nodeWrapper;
  }

  public Options options() {
    return options;
  }

  public SimulatedMounts mounts() {
    return mounts;
  }

  /** What the driver holds now (volumes, stagings, publications). */
  public MemoryState state() {
    return state;
  }

  @Override
  public String name() {
    return options.name();
  }

  /**
   * Serves on the endpoint from its own event loop (a verticle) and worker pool, as if it were another process.
   * A volume's files wait in {@code <stateDir>/volumes/<id>} while it is published nowhere.
   */
  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    WorkerExecutor workers = vertx.createSharedWorkerExecutor("memory-driver-" + options.name() + "-" + STARTS.incrementAndGet(), WORKERS);
    MemoryRpc rpc = new MemoryRpc(vertx, workers, options.latencyDuration(), options.failureRate(), options.seed(), attempts);
    MemoryNode node = new MemoryNode(state, mounts, nodeName, options.maxVolumesPerNode(), options.capacityBytes(),
        stateDir.resolve("volumes"), rpc);
    List<Service> services = List.of(
        IdentityGrpcService.of(new MemoryIdentity(options.name(), rpc)),
        ControllerGrpcService.of(new MemoryController(state, options.capacityBytes(), rpc, node)),
        NodeGrpcService.of(nodeWrapper.apply(node)));
    Promise<GrpcUnixServer> serving = Promise.promise();
    return vertx.deployVerticle(new VerticleBase() {
      @Override
      public Future<?> start() {
        return GrpcUnixServer.start(vertx, endpoint.path(), services).onComplete(serving);
      }
    }).compose(deployment -> serving.future().map(server -> {
      LOG.info("in-memory driver {} serving {} for node {} ({} volumes held)", options.name(), endpoint, nodeName, state.volumes().size());
      return (Running) () -> server.close()
          .eventually(() -> vertx.undeploy(deployment))
          .eventually(() -> {
            workers.close();
            return Future.succeededFuture();
          })
          .onComplete(ar -> LOG.info("in-memory driver {} stopped serving {}", options.name(), endpoint));
    })).onFailure(err -> workers.close());
  }
}
