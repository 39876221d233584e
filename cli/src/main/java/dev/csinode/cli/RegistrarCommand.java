package dev.csinode.cli;

import dev.csinode.agent.NodeVertx;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.Registrar;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent registrar}: node-driver-registrar's job for drivers that have none. */
@Command(name = "registrar", mixinStandardHelpOptions = true,
    description = "Register a CSI driver with the agent (or a kubelet) through a registration socket, like node-driver-registrar.")
public final class RegistrarCommand implements Callable<Integer> {
  @Option(names = "--csi-address", required = true, paramLabel = "PATH",
      description = "The driver's CSI socket as this process sees it (path or unix:// URL).")
  String csiAddress;

  @Option(names = "--kubelet-registration-path", required = true, paramLabel = "PATH",
      description = "The driver's CSI socket as the agent sees it; announced in GetInfo.")
  String kubeletRegistrationPath;

  @Option(names = "--plugin-registration-path", defaultValue = "/var/lib/kubelet/plugins_registry", paramLabel = "DIR",
      description = "Directory the agent watches for registration sockets (default: ${DEFAULT-VALUE}).")
  Path pluginRegistrationPath;

  @Option(names = "--timeout", defaultValue = "1s", converter = DurationOption.class, paramLabel = "DURATION",
      description = "Timeout of GetPluginInfo on the driver (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Override
  public Integer call() {
    Vertx vertx = NodeVertx.create();
    Future<Registrar> started;
    try {
      started = Registrar.start(vertx, UnixEndpoint.parse(csiAddress),
          UnixEndpoint.parse(kubeletRegistrationPath).path().toString(), pluginRegistrationPath, Duration.ofSeconds(30),
          timeout);
    } catch (IllegalArgumentException e) {
      vertx.close();
      throw e;
    }
    // Like node-driver-registrar: a refused registration exits non-zero so a supervisor restarts us.
    return Lifecycle.run(vertx, "registrar", started, Registrar::stop,
        r -> r.rejection().transform(ar -> Future.succeededFuture(1)));
  }
}
