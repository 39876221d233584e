package dev.csinode.agent.metrics;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.testing.Await;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Vertx;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class MetricsServerTest {
  @Test
  void clientsThatOfferTheHttp2UpgradeAreAnsweredEveryTime() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      PrometheusRegistry registry = new PrometheusRegistry();
      Counter.builder().name("test_events_total").help("events").register(registry).inc(3);
      // A body of tens of KiB, like a node's metrics with many volumes.
      Counter perVolume = Counter.builder().name("test_volume_events_total").help("events").labelNames("volume").register(registry);
      for (int v = 0; v < 500; v++) {
        perVolume.labelValues("kubernetes.io/csi/hostpath.csinode.dev^volume-" + v).inc();
      }
      MetricsServer server = Await.result(MetricsServer.start(vertx, "127.0.0.1:0", registry));
      // The JDK client's default (HTTP/2, upgrade from HTTP/1.1 on http://), a new client each time as a short-lived
      // scraper does: with h2c on, one of the first hundred requests hung for good, whatever its timeout.
      assertTimeoutPreemptively(Duration.ofSeconds(60), () -> scrapeManyTimes(server.port()));
    } finally {
      Await.result(vertx.close());
    }
  }

  private static void scrapeManyTimes(int port) throws Exception {
    {
      for (int i = 0; i < 150; i++) {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertTrue(r.body().contains("test_events_total 3.0"), r.body());
      }
    }
  }
}
