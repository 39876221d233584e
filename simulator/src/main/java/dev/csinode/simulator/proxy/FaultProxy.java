package dev.csinode.simulator.proxy;

import dev.csinode.agent.volume.MountPoints;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;

/**
 * A CSI proxy between a node and a driver over UNIX sockets: forwards every gRPC method unchanged, records each
 * call in a {@link Trace}, and applies the {@link FaultRules} in force (delay, fail, hang, drop, lose the answer).
 * Rules can be replaced while it runs.
 */
public final class FaultProxy {

  /**
   * What the proxy checks besides forwarding.
   *
   * @param mounts        where to look whether a stage or publish answered OK left its target mounted
   *                      ({@link dev.csinode.simulator.trace.CsiCall#mountedAfter}); null: not looked at
   * @param repeatToCheck after each NodeStageVolume / NodePublishVolume answered OK, send the same request again
   *                      (recorded as a probe call) to check the driver answers it OK too
   */
  public record Checks(MountPoints mounts, boolean repeatToCheck) {
    public static Checks none() {
      return new Checks(null, false);
    }
  }

  /** Listens on {@code listen} and forwards to {@code target}; completes once it serves. */
  public static Future<FaultProxy> start(Vertx vertx, UnixEndpoint listen, UnixEndpoint target, FaultRules rules, Trace trace,
                                         Checks checks) {
    throw new UnsupportedOperationException("to be written");
  }

  /** The rules for calls that arrive from now on. */
  public void rules(FaultRules rules) {
    throw new UnsupportedOperationException("to be written");
  }

  public FaultRules rules() {
    throw new UnsupportedOperationException("to be written");
  }

  public UnixEndpoint listen() {
    throw new UnsupportedOperationException("to be written");
  }

  /** Stops listening (removes its socket) and closes the connection to the target. */
  public Future<Void> close() {
    throw new UnsupportedOperationException("to be written");
  }
}
