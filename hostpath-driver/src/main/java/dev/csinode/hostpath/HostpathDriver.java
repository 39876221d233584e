package dev.csinode.hostpath;

import dev.csinode.csi.v1.ControllerGrpcService;
import dev.csinode.csi.v1.IdentityGrpcService;
import dev.csinode.csi.v1.NodeGrpcService;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.mount.Filesystems;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.Mounter;
import dev.csinode.mount.PrivateFiles;
import dev.csinode.mount.RootDir;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.WorkerExecutor;
import io.vertx.grpc.server.Service;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** One running hostpath driver: its state, its three CSI services, and the socket they are served on. */
public final class HostpathDriver {
  private static final Logger LOG = LoggerFactory.getLogger(HostpathDriver.class);
  /**
   * Blocking calls served at once; more queue. Mounts and unmounts take the kernel's mount lock one at a time, and a
   * node has few cores: 32 threads (an earlier figure) only added memory and cold caches, not throughput.
   */
  static final int WORKERS = 16;
  private final HostpathConfig config;
  private final GrpcUnixServer server;
  private final List<String> startupProblems;
  private final WorkerExecutor workers;
  private final String deployment;
  private final Vertx vertx;
  private final StateStore disk;

  private HostpathDriver(Vertx vertx, HostpathConfig config, GrpcUnixServer server, List<String> startupProblems,
                         WorkerExecutor workers, String deployment, StateStore disk) {
    this.vertx = vertx;
    this.config = config;
    this.server = server;
    this.startupProblems = startupProblems;
    this.workers = workers;
    this.deployment = deployment;
    this.disk = disk;
  }

  /**
   * The state directory is its owner's alone: records, images and snapshots 0600 in 0700 directories, created so
   * and narrowed at start if found wider. A directory volume's own directory keeps its mode: it is what a pod
   * sees as its volume's root. The state directory itself is the user's choice and may be a link (resolved once);
   * the directories below it are never reached through one: a link there is refused, naming it.
   */
  private static void makePrivate(Path stateDir) throws IOException {
    if (!Files.isDirectory(stateDir)) {
      Files.createDirectories(stateDir.getParent());
      PrivateFiles.createDirectory(stateDir);
    }
    RootDir root = RootDir.resolve(stateDir);
    Path volumes = stateDir.resolve("volumes");
    PrivateFiles.createDirectories(root, stateDir.resolve("state"), volumes, stateDir.resolve("snapshots"));
    PrivateFiles.restrict(root, stateDir, p -> volumes.equals(p.getParent()) && Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS));
  }

  /**
   * Loads the state, checks it against the host, and starts serving on the configured endpoint. The driver gets
   * its own event loop (a verticle) and its own worker pool, as if it were a separate process: sharing a Vert.x
   * with the agent must not put the two on one thread.
   */
  public static Future<HostpathDriver> start(Vertx vertx, HostpathConfig config) {
    WorkerExecutor workers = vertx.createSharedWorkerExecutor("hostpath-driver-" + config.driverName()
        + "-" + config.endpoint().path().hashCode(), WORKERS);
    AtomicReference<StateStore> disk = new AtomicReference<>();
    return vertx.executeBlocking(() -> {
      try {
        makePrivate(config.stateDir());
      } catch (IOException e) {
        throw new UncheckedIOException("cannot make the driver's state directory " + config.stateDir()
            + " private (0700): " + e.getMessage(), e);
      }
      disk.set(new StateStore(config.stateDir()));
      VolumeStore store = new VolumeStore(disk.get());
      Storage storage = new Storage(config.stateDir());
      LoopDevices loops = new LoopDevices();
      List<String> problems = StartupCheck.run(store, storage, loops);
      problems.forEach(p -> LOG.warn("state check: {}", p));
      Rpc rpc = new Rpc(workers);
      List<Service> services = List.of(
          IdentityGrpcService.of(new IdentityServer(config)),
          ControllerGrpcService.of(new ControllerServer(config, store, storage, rpc)),
          NodeGrpcService.of(
              new NodeServer(config, store, storage, rpc, new Mounter(), loops, new Filesystems())));
      return new Object[] {problems, services, store.volumes().size()};
    }, false).compose(parts -> {
      @SuppressWarnings("unchecked") List<String> problems = (List<String>) parts[0];
      @SuppressWarnings("unchecked") List<Service> services = (List<Service>) parts[1];
      Promise<GrpcUnixServer> serving = Promise.promise();
      return vertx.deployVerticle(new VerticleBase() {
        @Override
        public Future<?> start() {
          return GrpcUnixServer.start(vertx, config.endpoint().path(), services).onComplete(serving);
        }
      }).compose(deployment -> serving.future().map(server -> {
        LOG.info("hostpath driver {} serving {} for node {} (state in {}, {} volumes recorded{})",
            config.driverName(), config.endpoint(), config.nodeId(), config.stateDir(), parts[2],
            problems.isEmpty() ? ", state matches the host" : ", " + problems.size() + " mismatches");
        return new HostpathDriver(vertx, config, server, problems, workers, deployment, disk.get());
      }));
    }).onFailure(err -> {
      workers.close();
      if (disk.get() != null) {
        disk.get().close();
      }
    });
  }

  public HostpathConfig config() {
    return config;
  }

  /** What the start-up check found wrong between the persisted state and the host. */
  public List<String> startupProblems() {
    return startupProblems;
  }

  public Future<Void> stop() {
    return server.close()
        .eventually(() -> vertx.undeploy(deployment))
        .eventually(workers::close)
        .eventually(() -> {
          disk.close(); // no call is served any more: nothing writes the state now
          return Future.succeededFuture();
        })
        .onComplete(ar -> LOG.info("hostpath driver {} stopped serving {}", config.driverName(), config.endpoint()));
  }
}
