package dev.csinode.hostpath;

import dev.csinode.grpc.UnixEndpoint;
import java.nio.file.Path;

/** Settings of one driver instance. */
public record HostpathConfig(UnixEndpoint endpoint, String nodeId, Path stateDir, String driverName,
                             long maxVolumesPerNode, long capacityBytes, boolean attachRequired) {
  public static final String DEFAULT_DRIVER_NAME = "hostpath.csinode.dev";
  public static final String VENDOR_VERSION = "0.1.0";
  public static final String TOPOLOGY_KEY = "topology.hostpath.csinode.dev/node";

  public HostpathConfig {
    if (!Names.isValidDriverName(driverName)) {
      throw new IllegalArgumentException("driver name '" + driverName + "' is invalid: at most 63 characters, "
          + "alphanumerics, '-' and '.', starting and ending with an alphanumeric");
    }
    if (nodeId == null || nodeId.isBlank() || nodeId.length() > 256) {
      throw new IllegalArgumentException("node id must be 1 to 256 characters");
    }
    if (maxVolumesPerNode < 0) {
      throw new IllegalArgumentException("max volumes per node must not be negative");
    }
    if (capacityBytes <= 0) {
      throw new IllegalArgumentException("capacity must be positive");
    }
    stateDir = stateDir.toAbsolutePath().normalize();
  }
}
