package dev.csinode.grpc;

import io.vertx.grpc.common.GrpcStatus;

/** A failed gRPC call: always carries the status code and the peer's (or our) message. */
public final class GrpcCallException extends RuntimeException {
  private final GrpcStatus status;
  private final String statusMessage;

  public GrpcCallException(GrpcStatus status, String statusMessage) {
    this(status, statusMessage, null);
  }

  public GrpcCallException(GrpcStatus status, String statusMessage, Throwable cause) {
    super(status.name() + ": " + (statusMessage == null ? "" : statusMessage), cause);
    this.status = status;
    this.statusMessage = statusMessage == null ? "" : statusMessage;
  }

  public GrpcStatus status() {
    return status;
  }

  public String statusMessage() {
    return statusMessage;
  }
}
