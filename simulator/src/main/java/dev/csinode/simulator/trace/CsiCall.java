package dev.csinode.simulator.trace;

/**
 * One CSI call the node made, as the fault-injecting proxy saw it: which method on which volume, the kubelet paths
 * it named, when it started and ended (microseconds since the trace's origin), and how it ended.
 *
 * @param seq         order of arrival at the proxy, from 1
 * @param method      the CSI method's short name, e.g. {@code NodeStageVolume}
 * @param volumeId    the request's volume id, or null for calls without one (GetPluginInfo, CreateVolume by name)
 * @param stagingPath the request's staging_target_path, or null
 * @param targetPath  the request's target_path, or null
 * @param startMicros when the node's request arrived
 * @param endMicros   when the node got its answer (or its stream ended), or -1 while in flight
 * @param code        the gRPC status code's name as the node saw it ({@code OK}, {@code NOT_FOUND}, ...), or null in flight
 * @param message     the status message the node saw, or empty
 * @param fault       the name of the fault rule applied to this call, or null
 * @param probe       true for a call the simulator repeated itself to check idempotency (not the node's)
 * @param mountedAfter for a stage or publish answered OK: whether its target was a mount point right after; else null
 */
public record CsiCall(long seq, String method, String volumeId, String stagingPath, String targetPath, long startMicros,
                      long endMicros, String code, String message, String fault, boolean probe, Boolean mountedAfter) {

  public boolean ok() {
    return "OK".equals(code);
  }

  public boolean inFlight() {
    return endMicros < 0;
  }
}
