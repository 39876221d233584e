package dev.csinode.plugins;

import dev.csinode.plugins.csi.RegisteredDriver;

/**
 * What the agent knows of one registration socket, for status output.
 * {@code state}: registering, registered, failed, stale (nothing serves the socket) or conflict (the driver name
 * it announces is registered from another socket; the reason names both). {@code driver} is the registration,
 * present exactly when the state is registered, so a registered row always has its endpoint; its
 * {@code reason} then says why the driver is unhealthy, if it is.
 */
public record PluginStatus(String socketPath, String state, String reason, String driverName, long nextRetryAtMillis,
                           RegisteredDriver driver) {
  public PluginStatus {
    if (state.equals("registered") != (driver != null)) {
      throw new IllegalArgumentException("plugin status of " + socketPath + ": state " + state
          + (driver == null ? " without" : " with") + " a registered driver");
    }
  }
}
