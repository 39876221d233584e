package dev.csinode.hostpath;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/**
 * The hostpath driver as the agent runs it in its own process: the default name, 100 GiB; by default
 * ({@link #INSTANCE}) no volume limit and no attach, else the settings {@link #withSettings} gives (a simulator
 * scenario's {@code driver: {hostpath: ...}}).
 */
public final class BundledHostpathDriver implements BundledDriver {
  public static final BundledHostpathDriver INSTANCE = new BundledHostpathDriver(0, false);
  private static final long CAPACITY_BYTES = 100L << 30;
  private final long maxVolumesPerNode;
  private final boolean attachRequired;

  private BundledHostpathDriver(long maxVolumesPerNode, boolean attachRequired) {
    this.maxVolumesPerNode = maxVolumesPerNode;
    this.attachRequired = attachRequired;
  }

  /**
   * The bundled driver reporting {@code maxVolumesPerNode} in NodeGetInfo (0: no limit) and enforcing it, and, with
   * {@code attachRequired}, offering ControllerPublishVolume and staging only what was published to the node.
   */
  public static BundledHostpathDriver withSettings(long maxVolumesPerNode, boolean attachRequired) {
    if (maxVolumesPerNode < 0) {
      throw new IllegalArgumentException("max volumes per node must not be negative, not " + maxVolumesPerNode);
    }
    return maxVolumesPerNode == 0 && !attachRequired ? INSTANCE : new BundledHostpathDriver(maxVolumesPerNode, attachRequired);
  }

  @Override
  public String name() {
    return HostpathConfig.DEFAULT_DRIVER_NAME;
  }

  @Override
  public Future<Running> start(Vertx vertx, UnixEndpoint endpoint, String nodeName, Path stateDir) {
    HostpathConfig config = new HostpathConfig(endpoint, nodeName, stateDir, name(), maxVolumesPerNode, CAPACITY_BYTES,
        attachRequired);
    return HostpathDriver.start(vertx, config).map(driver -> driver::stop);
  }
}
