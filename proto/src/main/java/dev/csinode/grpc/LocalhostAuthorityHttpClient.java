package dev.csinode.grpc;

import io.vertx.core.Future;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.RequestOptions;
import java.util.concurrent.TimeUnit;

/**
 * Works around Vert.x 5.0.7 sending no {@code :authority} over UNIX sockets. grpc-go tolerates that, but
 * grpc-js and tonic reset such streams, so every call to drivers written with them would fail. Kubernetes
 * dials CSI sockets with authority {@code localhost}; we do the same. Covered by the grpc-js interop test.
 */
final class LocalhostAuthorityHttpClient implements HttpClient {
  private final HttpClient delegate;

  LocalhostAuthorityHttpClient(HttpClient delegate) {
    this.delegate = delegate;
  }

  @Override
  public Future<HttpClientRequest> request(RequestOptions options) {
    if (options.getHost() == null) {
      options = new RequestOptions(options).setHost("localhost");
    }
    return delegate.request(options);
  }

  @Override
  public Future<Void> shutdown(long timeout, TimeUnit unit) {
    return delegate.shutdown(timeout, unit);
  }
}
