package dev.csinode.agent.csi;

import com.google.protobuf.Message;
import dev.csinode.grpc.GrpcCallException;
import io.vertx.core.Future;
import io.vertx.grpc.common.ServiceMethod;

/**
 * The agent's CSI calls to drivers, one call at a time, each completing on the caller's context. The real one is
 * {@link GrpcCsiNodeClient}; tests of the reconciler and the volume operations answer the calls themselves.
 */
public interface CsiNodeClient extends AutoCloseable {

  /** Calls {@code method} on the driver serving {@code endpoint}; fails with {@link GrpcCallException} for a gRPC status. */
  <Req extends Message, Resp> Future<Resp> call(String driver, String endpoint, ServiceMethod<Resp, Req> method, Req request);

  /** Drops the connection to an endpoint (driver deregistered or moved). */
  void forget(String endpoint);

  @Override
  void close();

  /**
   * The kubelet's classification: these codes (and any failure that is not a gRPC status) leave the outcome
   * unknown, so the volume may be mounted; every other code means the call did nothing.
   */
  static boolean isUncertain(Throwable t) {
    if (!(t instanceof GrpcCallException g)) {
      return true;
    }
    return switch (g.status()) {
      case CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED -> true;
      default -> false;
    };
  }
}
