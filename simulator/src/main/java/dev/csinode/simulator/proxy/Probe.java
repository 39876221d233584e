package dev.csinode.simulator.proxy;

import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.simulator.trace.CsiCall;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.common.GrpcStatus;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's own repeat of a stage or publish the driver answered OK: the identical request bytes once more, to see
 * whether the driver answers a repeat OK as CSI requires. Recorded as its own call, marked as a probe.
 */
final class Probe {
  private final FaultProxy proxy;
  private final CsiMethods.Call call;
  private final String fullMethodName;
  private final MultiMap headers;
  private final Buffer request;
  private final long timeoutMillis;

  Probe(FaultProxy proxy, CsiMethods.Call call, String fullMethodName, MultiMap headers, Buffer request, long timeoutMillis) {
    this.proxy = proxy;
    this.call = call;
    this.fullMethodName = fullMethodName;
    this.headers = headers;
    this.request = request;
    this.timeoutMillis = timeoutMillis;
  }

  /** Completes (never fails) once the probe is recorded. */
  Future<Void> run() {
    long seq = proxy.trace.nextSeq();
    long start = proxy.trace.nowMicros();
    Promise<CsiCall> ended = Promise.promise();
    List<GrpcClientRequest<Buffer, Buffer>> sent = new ArrayList<>(1);
    // The driver may ignore the deadline it is sent; the probe must end anyway, or the node's answer waits forever.
    long timer = proxy.vertx.setTimer(timeoutMillis, t -> {
      if (ended.tryComplete(recorded(seq, start, GrpcStatus.DEADLINE_EXCEEDED,
          "the driver did not answer the repeat within " + timeoutMillis + " ms"))) {
        sent.forEach(GrpcClientRequest::cancel);
      }
    });
    proxy.driver.rawRequest().onComplete(ar -> {
      if (ar.failed()) {
        ended.tryComplete(recorded(seq, start, GrpcStatus.UNAVAILABLE, "the proxy cannot reach the driver: " + ar.cause().getMessage()));
        return;
      }
      GrpcClientRequest<Buffer, Buffer> req = ar.result();
      if (ended.future().isComplete()) {
        return; // timed out while dialling
      }
      sent.add(req);
      req.fullMethodName(fullMethodName);
      ProxiedCall.copyMetadata(headers, req.headers());
      req.timeout(timeoutMillis, TimeUnit.MILLISECONDS);
      req.send(request == null ? Buffer.buffer() : request).onComplete(r -> {
        if (r.failed()) {
          ended.tryComplete(recorded(seq, start, GrpcStatus.UNAVAILABLE, "the repeat failed: " + r.cause().getMessage()));
          return;
        }
        r.result().handler(msg -> {});
        r.result().exceptionHandler(err -> ended.tryComplete(recorded(seq, start, GrpcStatus.UNAVAILABLE,
            "the repeat failed: " + err.getMessage())));
        r.result().endHandler(v -> ended.tryComplete(recorded(seq, start, r.result().status(),
            GrpcUnixClient.statusMessage(r.result()))));
      });
    });
    return ended.future().map(c -> {
      proxy.vertx.cancelTimer(timer);
      proxy.add(c);
      return null;
    });
  }

  private CsiCall recorded(long seq, long start, GrpcStatus status, String message) {
    return new CsiCall(seq, call.method(), call.volumeId(), call.stagingPath(), call.targetPath(), start,
        proxy.trace.nowMicros(), status.name(), message, null, true, null);
  }
}
