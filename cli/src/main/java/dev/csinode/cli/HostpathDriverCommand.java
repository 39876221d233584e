package dev.csinode.cli;

import dev.csinode.agent.NodeVertx;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import io.vertx.core.Future;
import dev.csinode.plugins.registrar.Registrar;
import java.time.Duration;
import io.vertx.core.Vertx;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent hostpath-driver}: serves the bundled driver until SIGTERM or SIGINT. */
@Command(name = "hostpath-driver", mixinStandardHelpOptions = true,
    description = "Run the bundled hostpath CSI driver (Identity, Controller and Node services) on a UNIX socket.")
public final class HostpathDriverCommand implements Callable<Integer> {

  @Option(names = "--endpoint", required = true, paramLabel = "unix:///path/csi.sock",
      description = "CSI endpoint to listen on.")
  String endpoint;

  @Option(names = "--node-id", paramLabel = "ID", description = "Node id reported by NodeGetInfo (default: the host name).")
  String nodeId;

  @Option(names = "--state-dir", required = true, paramLabel = "DIR",
      description = "Directory holding the driver's state, volume data and snapshots.")
  Path stateDir;

  @Option(names = "--driver-name", defaultValue = HostpathConfig.DEFAULT_DRIVER_NAME,
      description = "CSI driver name (default: ${DEFAULT-VALUE}).")
  String driverName;

  @Option(names = "--max-volumes-per-node", defaultValue = "0",
      description = "Volumes this node may use at once, reported by NodeGetInfo; 0 means no limit (default: ${DEFAULT-VALUE}).")
  long maxVolumesPerNode;

  @Option(names = "--capacity", defaultValue = "100Gi", converter = ByteSize.class, paramLabel = "BYTES",
      description = "Total bytes the driver may hand out to volumes and snapshots, e.g. 10Gi or 500M (default: ${DEFAULT-VALUE}).")
  long capacity;

  @Option(names = "--attach-required", description = "Advertise PUBLISH_UNPUBLISH_VOLUME and require ControllerPublish before NodeStage.")
  boolean attachRequired;

  @Option(names = "--registration-dir", paramLabel = "DIR",
      description = "Register with the agent (or a kubelet) through a socket in this plugins_registry directory, "
          + "as node-driver-registrar would; without it the driver does not register itself.")
  Path registrationDir;

  @Option(names = "--kubelet-registration-path", paramLabel = "PATH",
      description = "The driver socket as the agent sees it, announced when registering (default: the --endpoint path).")
  String kubeletRegistrationPath;

  /** The driver and, with --registration-dir, its registrar. */
  private record Running(HostpathDriver driver, Registrar registrar) {
    Future<Void> stop() {
      return (registrar != null ? registrar.stop() : Future.<Void>succeededFuture()).eventually(driver::stop);
    }
  }

  @Override
  public Integer call() throws Exception {
    String node = nodeId != null ? nodeId : InetAddress.getLocalHost().getHostName();
    HostpathConfig config = new HostpathConfig(UnixEndpoint.parse(endpoint), node, stateDir, driverName,
        maxVolumesPerNode, capacity, attachRequired);
    String announced = kubeletRegistrationPath != null ? UnixEndpoint.parse(kubeletRegistrationPath).path().toString()
        : config.endpoint().path().toString();
    Vertx vertx = NodeVertx.create();
    Future<Running> started = HostpathDriver.start(vertx, config).compose(driver -> registrationDir == null
        ? Future.succeededFuture(new Running(driver, null))
        : Registrar.start(vertx, config.endpoint(), announced, registrationDir, Duration.ofSeconds(30), Duration.ofSeconds(5))
            .map(r -> new Running(driver, r))
            .recover(err -> driver.stop().transform(x -> Future.failedFuture("cannot register: " + err.getMessage()))));
    // Like node-driver-registrar: a refused registration ends the process so its supervisor restarts it.
    return Lifecycle.run(vertx, "hostpath-driver", started, Running::stop,
        r -> r.registrar() == null ? Future.<Integer>future(p -> { }) : r.registrar().rejection().transform(ar -> Future.succeededFuture(1)));
  }
}
