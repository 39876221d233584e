package dev.csinode.plugins;

/**
 * What the agent knows of one registration socket, for status output.
 * {@code state}: registering, registered, failed or stale.
 */
public record PluginStatus(String socketPath, String state, String reason, String driverName, long nextRetryAtMillis) {}
