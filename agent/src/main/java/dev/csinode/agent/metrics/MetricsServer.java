package dev.csinode.agent.metrics;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import java.io.ByteArrayOutputStream;

/** Serves {@code GET /metrics} in the Prometheus text format on a TCP address (loopback by default). */
public final class MetricsServer {
  private final HttpServer server;

  private MetricsServer(HttpServer server) {
    this.server = server;
  }

  /** @param address {@code host:port}; port 0 picks a free port */
  public static Future<MetricsServer> start(Vertx vertx, String address, PrometheusRegistry registry) {
    int colon = address.lastIndexOf(':');
    if (colon <= 0) {
      return Future.failedFuture(new IllegalArgumentException("--metrics-address '" + address + "' must be host:port"));
    }
    String host = address.substring(0, colon);
    int port;
    try {
      port = Integer.parseInt(address.substring(colon + 1));
    } catch (NumberFormatException e) {
      return Future.failedFuture(new IllegalArgumentException("--metrics-address '" + address + "' has no numeric port"));
    }
    PrometheusTextFormatWriter writer = new PrometheusTextFormatWriter(false);
    // No h2c: a client that offers the HTTP/2 upgrade on http:// (the JDK's HttpClient does by default) otherwise
    // waits forever for most answers from this Vert.x server. Prometheus scrapes over HTTP/1.1 anyway.
    return vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(false)).requestHandler(req -> {
      if (!req.path().equals("/metrics")) {
        req.response().setStatusCode(404).end("see /metrics\n");
        return;
      }
      vertx.executeBlocking(() -> {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        writer.write(out, registry.scrape());
        return Buffer.buffer(out.toByteArray());
      }, false).onSuccess(body -> req.response().putHeader("content-type", PrometheusTextFormatWriter.CONTENT_TYPE).end(body))
          .onFailure(err -> req.response().setStatusCode(500).end(String.valueOf(err.getMessage())));
    }).listen(port, host).map(MetricsServer::new);
  }

  public int port() {
    return server.actualPort();
  }

  public Future<Void> stop() {
    return server.close();
  }
}
