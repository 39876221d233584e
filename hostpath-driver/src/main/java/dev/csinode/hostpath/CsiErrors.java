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

  /**
   * Why making {@code what} (its data and its record, already undone by the caller) failed: a spec error passes as
   * it is; a full disk under the state dir is RESOURCE_EXHAUSTED, so the CO retries later rather than giving up;
   * anything else is INTERNAL.
   */
  static StatusException creationFailed(String what, Throwable e) {
    if (e instanceof StatusException se) {
      return se;
    }
    String message = "cannot create " + what + ": " + (e.getMessage() != null ? e.getMessage() : e.toString());
    for (Throwable t = e; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (m.contains("No space left on device") || m.contains("Disk quota exceeded")) {
        return exhausted(message + (t == e ? "" : " (" + m + ")") + "; free space in the driver's state dir and retry");
      }
    }
    return internal(message);
  }

  static void require(boolean condition, String message) {
    if (!condition) {
      throw invalid(message);
    }
  }
}
