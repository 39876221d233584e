package dev.csinode.agent.status;

import java.util.List;
import java.util.Map;

/**
 * One row of {@code status}: a registration socket and, once registered, its driver.
 * {@code state}: registering, registered, failed (see reason) or stale (nothing serves the socket).
 */
public record DriverStatus(String name, String endpoint, String nodeId, String state, String reason, Boolean healthy,
                           List<String> capabilities, Map<String, String> topology, long maxVolumesPerNode,
                           String registrationSocket, String registeredAt, String nextRetryAt) {}
