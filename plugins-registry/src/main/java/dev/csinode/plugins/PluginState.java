package dev.csinode.plugins;

import dev.csinode.plugins.csi.RegisteredDriver;

/** Where the registration of one socket instance stands. */
sealed interface PluginState {
  PluginStatus status(String socketPath);

  record Registering() implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "registering", "", "", 0, null);
    }
  }

  /** Registered and holding the name; {@code problem} says why it is unhealthy (empty while healthy). */
  record Registered(RegisteredDriver driver, String problem) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "registered", problem, driver.name(), 0, driver);
    }
  }

  record Failed(String reason, long nextRetryAtMillis) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "failed", reason, "", nextRetryAtMillis, null);
    }
  }

  record Stale(String reason, long nextRetryAtMillis) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "stale", reason, "", nextRetryAtMillis, null);
    }
  }

  /**
   * Refused (or replaced by a higher version) because another socket holds the driver name; tried again when that
   * socket goes, not on a timer: the kubelet never retries a refused socket, and the holder may stay for good.
   */
  record Conflict(String driverName, String reason) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "conflict", reason, driverName, 0, null);
    }
  }
}
