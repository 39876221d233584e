package dev.csinode.plugins;

/** Where the registration of one socket instance stands. */
sealed interface PluginState {
  PluginStatus status(String socketPath);

  record Registering() implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "registering", "", "", 0);
    }
  }

  record Registered(String driverName) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "registered", "", driverName, 0);
    }
  }

  record Failed(String reason, long nextRetryAtMillis) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "failed", reason, "", nextRetryAtMillis);
    }
  }

  record Stale(String reason, long nextRetryAtMillis) implements PluginState {
    public PluginStatus status(String socketPath) {
      return new PluginStatus(socketPath, "stale", reason, "", nextRetryAtMillis);
    }
  }
}
