package dev.csinode.simulator.proxy;

import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.simulator.trace.CsiCall;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.StreamResetException;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcError;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.GrpcServerResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One call from the node through the proxy, on the event loop of the node's connection: waits for the first request
 * message (the rules match on its volume), applies the rule that matches, forwards the bytes, and answers the node
 * with the driver's status, or with the fault. Recorded once, when the node has its answer or has gone.
 */
final class ProxiedCall {
  private static final Logger LOG = LoggerFactory.getLogger(ProxiedCall.class);
  /**
   * The node's deadline runs on its own clock from when it sent the call, ours from when the call arrived: a reset
   * this close to our deadline is the node's deadline, not a cancel.
   */
  private static final long DEADLINE_SLACK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
  /** How long a probe may take when the node's call had no deadline. */
  private static final long PROBE_DEFAULT_MILLIS = TimeUnit.MINUTES.toMillis(2);

  private final FaultProxy proxy;
  private final GrpcServerRequest<Buffer, Buffer> in;
  /** The node's connection's event loop: every step of the call runs here, so its state needs no locks. */
  private final Context context;
  private final long seq;
  private final long startMicros;
  /** The node's deadline on System.nanoTime(), when it sent one (timeoutMillis > 0). */
  private final long deadlineNanos;
  private final long timeoutMillis;
  private final List<Buffer> pending = new ArrayList<>();
  private boolean requestEnded;
  private boolean decided;
  /** Written once on the event loop; read by {@link #snapshot} from any thread. */
  private volatile CsiMethods.Call call;
  private Buffer firstMessage;
  private volatile FaultRule fault;
  private GrpcClientRequest<Buffer, Buffer> out;
  private boolean loseAnswer;
  /**
   * The driver's answer ended (its trailers arrived). A driver may reset the stream after answering, when the node's
   * request side was still open (HTTP/2 allows it); that reset is not the answer and must not turn an OK into an error.
   */
  private boolean driverAnswered;
  private boolean done;
  private long deadlineTimer = -1;
  private long delayTimer = -1;

  ProxiedCall(FaultProxy proxy, GrpcServerRequest<Buffer, Buffer> in) {
    this.proxy = proxy;
    this.in = in;
    this.context = Vertx.currentContext();
    this.seq = proxy.trace.nextSeq();
    this.startMicros = proxy.trace.nowMicros();
    this.timeoutMillis = in.timeout();
    this.deadlineNanos = timeoutMillis > 0 ? System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis) : 0;
  }

  void start() {
    proxy.started(this);
    in.handler(this::onRequestMessage);
    in.endHandler(v -> onRequestEnd());
    in.errorHandler(this::onNodeError);
    in.exceptionHandler(this::onNodeGone);
    in.response().exceptionHandler(this::onNodeGone);
    if (timeoutMillis > 0) {
      deadlineTimer = proxy.vertx.setTimer(Math.max(1, timeoutMillis), t -> onDeadline());
    }
  }

  private void onRequestMessage(Buffer msg) {
    if (!decided) {
      pending.add(msg);
      if (firstMessage == null) {
        firstMessage = msg.copy();
        decide();
      }
    } else if (out != null) {
      out.write(msg);
    } else {
      pending.add(msg);
    }
  }

  private void onRequestEnd() {
    requestEnded = true;
    if (!decided) {
      decide();
    } else if (out != null && !driverAnswered) {
      try {
        out.end();
      } catch (IllegalStateException alreadyFailed) {
        // the driver's side failed meanwhile: its failure is the answer, reported by its own handler
      }
    }
  }

  private void decide() {
    try {
      decideAndAct();
    } catch (RuntimeException e) {
      LOG.error("proxying {} failed", in.fullMethodName(), e);
      answer(GrpcStatus.INTERNAL, "the fault proxy failed: " + e, null);
    }
  }

  private void decideAndAct() {
    decided = true;
    call = CsiMethods.describe(in.fullMethodName(), firstMessage);
    Optional<FaultRule> rule = proxy.rules().decide(call);
    if (rule.isEmpty()) {
      forward();
      return;
    }
    fault = rule.get();
    LOG.info("fault {}: {} {}{}", fault.name(), fault.action(), call.method(),
        call.volumeId() == null ? "" : " on volume " + call.volumeId());
    long delayMillis = fault.delayDuration().toMillis();
    if (delayMillis > 0) {
      delayTimer = proxy.vertx.setTimer(delayMillis, t -> act());
    } else {
      act();
    }
  }

  private void act() {
    // A lost answer's work is the driver's whatever the node does: when the node gave up during the wait, the driver
    // still gets the call, in the background (a late unstage landing after the node moved on, k/k#102486).
    if (done && fault.action() != FaultAction.LOSE_ANSWER) {
      return;
    }
    switch (fault.action()) {
      case DELAY -> forward();
      case FAIL -> answer(fault.status(), fault.message() == null ? "" : fault.message(), null);
      case HANG -> { } // the deadline timer or the node's cancel ends it
      case DROP -> {
        finish(GrpcStatus.UNAVAILABLE, "connection dropped by fault rule " + fault.name(), null);
        in.connection().close();
      }
      case LOSE_ANSWER -> {
        loseAnswer = true;
        forward();
      }
    }
  }

  private void forward() {
    long remaining = remainingMillis();
    if (remaining == 0 && !loseAnswer) {
      answer(GrpcStatus.DEADLINE_EXCEEDED, "deadline passed before the call reached the driver", null);
      return;
    }
    proxy.driver.rawRequest().onComplete(ar -> {
      if (ar.failed()) {
        driverFailed(GrpcStatus.UNAVAILABLE, "the proxy cannot reach the driver: " + ar.cause().getMessage());
        return;
      }
      if (done && !loseAnswer) {
        return; // the node went while we dialled; the request was never sent
      }
      out = ar.result();
      out.fullMethodName(in.fullMethodName());
      copyMetadata(in.headers(), out.headers());
      long left = remainingMillis();
      if (left > 0 || left == 0 && !loseAnswer) {
        out.timeout(Math.max(1, left), TimeUnit.MILLISECONDS);
      }
      out.exceptionHandler(err -> driverFailed(err));
      out.response().onComplete(r -> {
        if (r.failed()) {
          driverFailed(r.cause());
        } else {
          relay(r.result());
        }
      });
      pending.forEach(out::write);
      pending.clear();
      if (requestEnded) {
        out.end();
      }
    });
  }

  /** The node's remaining time in ms: -1 without a deadline, 0 when it has passed. */
  private long remainingMillis() {
    if (timeoutMillis <= 0) {
      return -1;
    }
    return Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
  }

  private void relay(GrpcClientResponse<Buffer, Buffer> resp) {
    boolean hold = loseAnswer || CsiMethods.STAGE.equals(call.method()) || CsiMethods.PUBLISH.equals(call.method());
    List<Buffer> answer = new ArrayList<>();
    if (!done) {
      copyMetadata(resp.headers(), in.response().headers());
    }
    resp.handler(msg -> {
      if (hold) {
        answer.add(msg);
      } else if (!done) {
        in.response().write(msg);
      }
    });
    resp.errorHandler(err -> {
      if (!driverAnswered) {
        driverFailed(err.status, "the driver reset the call (" + err.name() + ")");
      }
    });
    resp.exceptionHandler(err -> {
      if (!driverAnswered) {
        driverFailed(err);
      }
    });
    resp.endHandler(v -> {
      driverAnswered = true;
      GrpcStatus status = resp.status();
      String message = GrpcUnixClient.statusMessage(resp);
      if (loseAnswer) {
        answer(GrpcStatus.DEADLINE_EXCEEDED, "fault rule " + fault.name() + " lost the driver's answer (" + status + ")", null);
      } else if (!done && status == GrpcStatus.OK && hold) {
        check().onComplete(mounted -> deliver(answer, status, message, resp.trailers(), mounted.result()));
      } else {
        deliver(answer, status, message, resp.trailers(), null);
      }
    });
  }

  /** After a stage or publish answered OK, before the node hears of it: is the target mounted, does a repeat pass. */
  private Future<Boolean> check() {
    FaultProxy.Checks checks = proxy.checks;
    Future<Boolean> mounted = Future.succeededFuture(null);
    if (checks.mounts() != null && CsiMethods.PUBLISH.equals(call.method()) && call.targetPath() != null) {
      Path target = Path.of(call.targetPath());
      mounted = proxy.vertx.executeBlocking(() -> checks.mounts().isMountPoint(target), false);
    }
    if (!checks.repeatToCheck()) {
      return mounted;
    }
    return mounted.recover(err -> Future.succeededFuture(null))
        .compose(m -> new Probe(proxy, call, in.fullMethodName(), in.headers(), firstMessage,
            timeoutMillis > 0 ? timeoutMillis : PROBE_DEFAULT_MILLIS).run().map(v -> m));
  }

  private void deliver(List<Buffer> messages, GrpcStatus status, String message, MultiMap trailers, Boolean mountedAfter) {
    if (done) {
      return;
    }
    GrpcServerResponse<Buffer, Buffer> response = in.response();
    messages.forEach(response::write);
    copyTrailers(trailers, response.trailers());
    finish(status, message, mountedAfter);
    end(response, status, message);
  }

  private void driverFailed(Throwable err) {
    if (err instanceof StreamResetException reset) {
      GrpcStatus status = GrpcError.mapHttp2ErrorCode(reset.getCode()) == null ? GrpcStatus.UNAVAILABLE
          : GrpcError.mapHttp2ErrorCode(reset.getCode()).status;
      driverFailed(status, "the driver reset the call (HTTP/2 error " + reset.getCode() + ")");
    } else {
      driverFailed(GrpcStatus.UNAVAILABLE, "the connection to the driver failed: " + err.getMessage());
    }
  }

  private void driverFailed(GrpcStatus status, String message) {
    if (loseAnswer) {
      answer(GrpcStatus.DEADLINE_EXCEEDED, "fault rule " + fault.name() + " lost the driver's answer (" + status + ")", null);
    } else {
      answer(status, message, null);
    }
  }

  private void answer(GrpcStatus status, String message, Boolean mountedAfter) {
    if (done) {
      return;
    }
    finish(status, message, mountedAfter);
    end(in.response(), status, message);
  }

  /**
   * Vert.x percent-encodes more of the status message than gRPC allows (':' among others), and grpc-js does not
   * decode those: so the message goes out as the gRPC spec encodes it, as a trailer of ours.
   */
  private static void end(GrpcServerResponse<Buffer, Buffer> response, GrpcStatus status, String message) {
    response.status(status);
    if (!message.isEmpty()) {
      response.trailers().set("grpc-message", percentEncoded(message));
    }
    response.end();
  }

  /** The gRPC spec's encoding of grpc-message: UTF-8, every byte outside printable ASCII and '%' as %XX. */
  static String percentEncoded(String message) {
    StringBuilder out = new StringBuilder();
    for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c >= 0x20 && c <= 0x7e && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
            .append(Character.toUpperCase(Character.forDigit(c & 0xf, 16)));
      }
    }
    return out.toString();
  }

  private void onDeadline() {
    deadlineTimer = -1;
    if (done) {
      return;
    }
    answer(GrpcStatus.DEADLINE_EXCEEDED, "deadline exceeded after " + timeoutMillis + " ms", null);
    if (out != null && !loseAnswer) {
      out.cancel();
    }
  }

  private void onNodeError(GrpcError err) {
    onNodeGone(new StreamResetException(err.http2ResetCode));
  }

  /** The node reset the call or its connection closed: it has its answer (its own), we stop working for it. */
  private void onNodeGone(Throwable err) {
    if (done) {
      return;
    }
    GrpcStatus seen;
    String message;
    if (err instanceof HttpClosedException) {
      seen = GrpcStatus.UNAVAILABLE;
      message = "the node's connection closed";
    } else if (timeoutMillis > 0 && deadlineNanos - System.nanoTime() <= DEADLINE_SLACK_NANOS) {
      seen = GrpcStatus.DEADLINE_EXCEEDED;
      message = "the node gave up at its deadline (" + timeoutMillis + " ms)";
    } else {
      seen = GrpcStatus.CANCELLED;
      message = "the node cancelled the call";
    }
    finish(seen, message, null); // first: cancelling fails the driver's side at once, which must not count as the answer
    if (out != null && !loseAnswer) {
      out.cancel();
    }
  }

  /** The proxy is closing: stop waiting and let the driver's side go. */
  void abandon() {
    context.runOnContext(v -> onNodeGone(new HttpClosedException("proxy closed")));
  }

  private void finish(GrpcStatus status, String message, Boolean mountedAfter) {
    done = true;
    if (deadlineTimer >= 0) {
      proxy.vertx.cancelTimer(deadlineTimer);
    }
    if (delayTimer >= 0 && fault.action() != FaultAction.LOSE_ANSWER) {
      proxy.vertx.cancelTimer(delayTimer);
    }
    CsiMethods.Call c = call != null ? call : CsiMethods.describe(in.fullMethodName(), null);
    proxy.record(this, new CsiCall(seq, c.method(), c.volumeId(), c.stagingPath(), c.targetPath(), startMicros,
        proxy.trace.nowMicros(), status.name(), message, fault == null ? null : fault.name(), false, mountedAfter));
  }

  /** This call as it stands while the node still waits for it. */
  CsiCall snapshot() {
    CsiMethods.Call c = call != null ? call : CsiMethods.describe(in.fullMethodName(), null);
    FaultRule f = fault;
    return new CsiCall(seq, c.method(), c.volumeId(), c.stagingPath(), c.targetPath(), startMicros, -1, null, "",
        f == null ? null : f.name(), false, null);
  }

  /** The node's own metadata; the transport's and gRPC's headers are set by each hop itself. */
  static void copyMetadata(MultiMap from, MultiMap to) {
    for (Map.Entry<String, String> h : from) {
      String name = h.getKey().toLowerCase();
      if (!name.startsWith(":") && !name.startsWith("grpc-") && !name.equals("content-type") && !name.equals("te")
          && !name.equals("user-agent") && !name.equals("host") && !name.equals("content-length")) {
        to.add(h.getKey(), h.getValue());
      }
    }
  }

  /** The driver's trailing metadata, with its rich error details; status and message are set separately. */
  private static void copyTrailers(MultiMap from, MultiMap to) {
    copyMetadata(from, to);
    String details = from.get("grpc-status-details-bin");
    if (details != null) {
      to.set("grpc-status-details-bin", details);
    }
  }
}
