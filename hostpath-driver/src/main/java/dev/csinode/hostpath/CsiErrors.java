package dev.csinode.hostpath;

import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;

/** The spec's error codes with messages that say what is wrong and with which object. */
final class CsiErrors {
  private CsiErrors() {}

  static StatusException invalid(String message) {
    return new StatusException(GrpcStatus.INVALID_ARGUMENT, message);
  }

  static StatusException notFound(String message) {
    return new StatusException(GrpcStatus.NOT_FOUND, message);
  }

  static StatusException alreadyExists(String message) {
    return new StatusException(GrpcStatus.ALREADY_EXISTS, message);
  }

  static StatusException failedPrecondition(String message) {
    return new StatusException(GrpcStatus.FAILED_PRECONDITION, message);
  }

  static StatusException outOfRange(String message) {
    return new StatusException(GrpcStatus.OUT_OF_RANGE, message);
  }

  static StatusException exhausted(String message) {
    return new StatusException(GrpcStatus.RESOURCE_EXHAUSTED, message);
  }

  static StatusException aborted(String message) {
    return new StatusException(GrpcStatus.ABORTED, message);
  }

  static StatusException unimplemented(String message) {
    return new StatusException(GrpcStatus.UNIMPLEMENTED, message);
  }

  static StatusException internal(String message) {
    return new StatusException(GrpcStatus.INTERNAL, message);
  }

  static void require(boolean condition, String message) {
    if (!condition) {
      throw invalid(message);
    }
  }
}
