package dev.csinode.simulator.driver.memory;

import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;

/** The spec's error codes, with messages naming the object. */
final class CsiStatus {
  private CsiStatus() {}

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

  static StatusException exhausted(String message) {
    return new StatusException(GrpcStatus.RESOURCE_EXHAUSTED, message);
  }

  static void require(boolean condition, String message) {
    if (!condition) {
      throw invalid(message);
    }
  }
}
