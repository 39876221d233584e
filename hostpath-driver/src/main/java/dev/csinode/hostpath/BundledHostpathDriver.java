package dev.csinode.hostpath;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/** The hostpath driver as the agent runs it in its own process: the default name, no volume limit, 100 GiB. */
public final class BundledHostpathDriver implements BundledDriver {
  public static final BundledHostpathDriver INSTANCE = new BundledHostpathDriver();
  private static final long CAPACITY_BYTES = 100L << 30;

  private BundledHostpathDriver() {}

  @Override
  public String name() {
    return HostpathConfig.DEFAULT_DRIVER_NAME;
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    HostpathConfig config = new HostpathConfig(endpoint, nodeName, stateDir, name(), 0, CAPACITY_BYTES, false);
    return HostpathDriver.start(vertx, config).map(driver -> driver::stop);
  }
}
