package dev.csinode.agent.status;

import java.util.List;
import java.util.Map;

/**
 * One row of {@code status}: a registration socket and, once registered, its driver.
 * {@code state}: registering, registered, failed (see reason), stale (nothing serves the socket) or conflict
 * (the driver name it announces is registered from another socket; the reason names both). A registered row
 * always has its endpoint; its reason says why it is unhealthy (the last failed Probe), if it is.
 */
public record DriverStatus(String name, String endpoint, String nodeId, String state, String reason, Boolean healthy,
                           List<String> capabilities, Map<String, String> topology, long maxVolumesPerNode,
                           String registrationSocket, String registeredAt, String nextRetryAt) {}
