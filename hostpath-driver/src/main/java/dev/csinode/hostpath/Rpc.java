package dev.csinode.hostpath;

import com.google.protobuf.Message;
import dev.csinode.grpc.SecretRedactor;
import io.vertx.core.Future;
import io.vertx.core.WorkerExecutor;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.StatusException;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs an RPC body on a worker thread (mounts, losetup and fsync block) and turns any failure into a
 * gRPC status: our {@link StatusException}s pass through, anything unexpected becomes INTERNAL with its message.
 * Requests are logged with secrets stripped.
 */
final class Rpc {
  private static final Logger LOG = LoggerFactory.getLogger("dev.csinode.hostpath.rpc");
  private final WorkerExecutor workers;

  /** @param workers the driver's own blocking pool: mounts and state writes never wait behind its host's work */
  Rpc(WorkerExecutor workers) {
    this.workers = workers;
  }

  <T extends Message> Future<T> run(String method, Message request, Callable<T> body) {
    boolean debug = LOG.isDebugEnabled();
    if (debug) {
      LOG.debug("{} request: {}", method, SecretRedactor.toLogString(request));
    }
    Future<T> result = workers.executeBlocking(() -> {
      try {
        return body.call();
      } catch (StatusException e) {
        throw e;
      } catch (Exception | Error e) {
        LOG.error("{} failed unexpectedly", method, e);
        throw new StatusException(GrpcStatus.INTERNAL, method + " failed: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      }
    }, false);
    // Only at debug level: a second listener on every call's future is garbage per call for a line nobody reads.
    return debug ? result.onFailure(err -> {
      if (err instanceof StatusException se) {
        LOG.debug("{} -> {}: {}", method, se.status(), se.message());
      }
    }) : result;
  }
}
