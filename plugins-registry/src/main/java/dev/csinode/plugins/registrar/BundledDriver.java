package dev.csinode.plugins.registrar;

import dev.csinode.grpc.UnixEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/**
 * A CSI driver that runs inside the node agent's process. The agent gives it a socket and a state directory under
 * {@code <root>/plugins/<name>} and registers it with a {@link Registrar} through {@code plugins_registry} like any
 * other driver, so the volume manager cannot tell it from an external one. The agent does not know which driver it
 * is: whoever composes the agent (the command line, the simulator) hands one in.
 */
public interface BundledDriver {

  /** The driver's CSI name, also its directory under {@code <root>/plugins}. */
  String name();

  /** Starts serving CSI on the endpoint; completes once it answers. */
  Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir);

  /** A started driver. */
  interface Running {
    Future<Void> stop();
  }
}
