package dev.csinode.grpc;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.client.GrpcClient;
import io.vertx.grpc.client.GrpcClientRequest;
import io.vertx.grpc.client.GrpcClientResponse;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC client bound to one UNIX socket. Each call has a deadline, sent to the server as
 * {@code grpc-timeout} and also enforced here, so a peer that never answers still fails in time.
 * Every failure is a {@link GrpcCallException} with status and message; transport failures map to
 * UNAVAILABLE, a deadline to DEADLINE_EXCEEDED.
 */
public final class GrpcUnixClient implements AutoCloseable {
  private final Vertx vertx;
  private final UnixEndpoint endpoint;
  private final SocketAddress address;
  private final HttpClient http;
  private final GrpcClient grpc;
  /**
   * Every call runs on this one context. From a non-Vert.x thread each call would otherwise get a fresh
   * context, and the response could be dispatched before its handlers are set: the call would hang.
   */
  private final Context context;

  public GrpcUnixClient(Vertx vertx, UnixEndpoint endpoint) {
    this.vertx = vertx;
    this.context = vertx.getOrCreateContext();
    this.endpoint = endpoint;
    this.address = SocketAddress.domainSocketAddress(endpoint.path().toString());
    this.http = vertx.httpClientBuilder().with(new HttpClientOptions()
        .setProtocolVersion(HttpVersion.HTTP_2)
        .setHttp2ClearTextUpgrade(false))
        .withConnectHandler(FlushBatching.INSTANCE)
        .build();
    this.grpc = GrpcClient.client(vertx, new LocalhostAuthorityHttpClient(http));
  }

  public static GrpcUnixClient dial(Vertx vertx, String endpoint) {
    return new GrpcUnixClient(vertx, UnixEndpoint.parse(endpoint));
  }

  public UnixEndpoint endpoint() {
    return endpoint;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** One unary call. The returned future completes on a Vert.x context. */
  public <Req, Resp> Future<Resp> call(ServiceMethod<Resp, Req> method, Req request, Duration deadline) {
    Promise<Resp> result = Promise.promise();
    long millis = Math.max(1, deadline.toMillis());
    long timer = vertx.setTimer(millis, t -> result.tryFail(new GrpcCallException(GrpcStatus.DEADLINE_EXCEEDED,
        method.fullMethodName() + " on " + endpoint + " did not answer within " + millis + " ms")));
    Runnable start = () -> grpc.request(address, method).compose(req -> {
      req.timeout(millis, TimeUnit.MILLISECONDS);
      result.future().onFailure(err -> req.cancel());
      return req.send(request);
    }).onSuccess(resp -> collect(resp, result))
        .onFailure(err -> result.tryFail(asCallException(err, method)));
    if (Vertx.currentContext() == context) {
      start.run();
    } else {
      context.runOnContext(v -> start.run());
    }
    return result.future().onComplete(ar -> vertx.cancelTimer(timer));
  }

  /**
   * A call whose messages stay encoded, for a relay (the fault-injecting proxy): the caller names the method, sets
   * the deadline and reads the status itself. Call it from a Vert.x context; the call's events run on that context.
   */
  public Future<GrpcClientRequest<Buffer, Buffer>> rawRequest() {
    return grpc.request(address);
  }

  private static <Req, Resp> void collect(GrpcClientResponse<Req, Resp> resp, Promise<Resp> result) {
    Object[] last = new Object[1];
    resp.handler(msg -> last[0] = msg);
    resp.exceptionHandler(err -> result.tryFail(new GrpcCallException(GrpcStatus.UNAVAILABLE,
        "stream failed: " + err.getMessage(), err)));
    resp.endHandler(v -> {
      GrpcStatus status = resp.status();
      if (status == GrpcStatus.OK) {
        @SuppressWarnings("unchecked") Resp r = (Resp) last[0];
        if (r == null) {
          result.tryFail(new GrpcCallException(GrpcStatus.INTERNAL, "server ended the call without a response message"));
        } else {
          result.tryComplete(r);
        }
      } else {
        result.tryFail(new GrpcCallException(status, statusMessage(resp)));
      }
    });
  }

  /** The status message of an ended response, wherever the peer put it; empty when it sent none. */
  public static String statusMessage(GrpcClientResponse<?, ?> resp) {
    String msg = resp.statusMessage();
    if (msg == null) {
      // With headers then trailers (not trailers-only), Vert.x 5.0.7 only looks for the message in headers.
      String raw = resp.trailers().get("grpc-message");
      msg = raw == null ? "" : URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
    return msg;
  }

  private static GrpcCallException asCallException(Throwable err, ServiceMethod<?, ?> method) {
    if (err instanceof GrpcCallException g) {
      return g;
    }
    return new GrpcCallException(GrpcStatus.UNAVAILABLE,
        "cannot reach " + method.fullMethodName() + ": " + err.getClass().getSimpleName() + ": " + err.getMessage(), err);
  }

  @Override
  public void close() {
    grpc.close();
    http.close();
  }
}
