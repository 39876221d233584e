package dev.csinode.plugins.csi;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A CSI driver known to the agent through plugin registration. */
public record RegisteredDriver(String name, String endpoint, Path registrationSocket, String nodeId,
                               Map<String, String> topology, long maxVolumesPerNode, List<String> nodeCapabilities,
                               String highestSupportedVersion, long registeredAtMillis, boolean healthy) {

  public RegisteredDriver {
    topology = Map.copyOf(topology);
    nodeCapabilities = List.copyOf(nodeCapabilities);
  }

  public RegisteredDriver withHealthy(boolean h) {
    return new RegisteredDriver(name, endpoint, registrationSocket, nodeId, topology, maxVolumesPerNode, nodeCapabilities,
        highestSupportedVersion, registeredAtMillis, h);
  }

  public boolean hasNodeCapability(String capability) {
    return nodeCapabilities.contains(capability);
  }
}
