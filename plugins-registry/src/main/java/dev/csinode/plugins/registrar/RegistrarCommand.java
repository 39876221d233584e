package dev.csinode.plugins.registrar;

import dev.csinode.grpc.Lifecycle;
import dev.csinode.grpc.UnixEndpoint;
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

  @Option(names = "--timeout", defaultValue = "1s", paramLabel = "DURATION",
      description = "Timeout of GetPluginInfo on the driver (default: ${DEFAULT-VALUE}).")
  String timeout;

  @Override
  public Integer call() {
    Vertx vertx = Vertx.vertx();
    Future<Registrar> started;
    try {
      started = Registrar.start(vertx, UnixEndpoint.parse(csiAddress),
          UnixEndpoint.parse(kubeletRegistrationPath).path().toString(), pluginRegistrationPath, Duration.ofSeconds(30),
          parseDuration(timeout));
    } catch (IllegalArgumentException e) {
      vertx.close();
      throw e;
    }
    // Like node-driver-registrar: a refused registration exits non-zero so a supervisor restarts us.
    return Lifecycle.run(vertx, "registrar", started, Registrar::stop,
        r -> r.rejection().transform(ar -> Future.succeededFuture(1)));
  }

  /** Durations as in Kubernetes flags: 500ms, 1s, 2m. */
  public static Duration parseDuration(String s) {
    // Go's notation, as kubelet flags use it: 500ms, 10s, 2m2s, 1h.
    String text = s == null ? "" : s.trim();
    var m = java.util.regex.Pattern.compile("(\\d+)(ms|s|m|h)").matcher(text);
    Duration total = Duration.ZERO;
    int end = 0;
    while (m.find() && m.start() == end) {
      long n = Long.parseLong(m.group(1));
      total = total.plus(switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      });
      end = m.end();
    }
    if (text.isEmpty() || end != text.length()) {
      throw new IllegalArgumentException("'" + s + "' is not a duration; use e.g. 500ms, 1s, 2m or 2m2s");
    }
    return total;
  }
}
