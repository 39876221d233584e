package dev.csinode.agent.csi;

import com.google.protobuf.Message;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SecretRedactor;
import dev.csinode.grpc.UnixEndpoint;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's CSI calls to drivers over gRPC: one connection per endpoint, kept; a deadline on every call; every call
 * measured as {@code csi_operations_seconds} with the kubelet's labels; requests logged with secrets stripped.
 */
public final class GrpcCsiNodeClient implements CsiNodeClient {
  private static final Logger LOG = LoggerFactory.getLogger(GrpcCsiNodeClient.class);
  private final Vertx vertx;
  private final Duration deadline;
  private final Histogram seconds;
  private final Map<String, GrpcUnixClient> clients = new ConcurrentHashMap<>();

  public GrpcCsiNodeClient(Vertx vertx, Duration deadline, PrometheusRegistry metrics) {
    this.vertx = vertx;
    this.deadline = deadline;
    this.seconds = Histogram.builder().name("csi_operations_seconds")
        .help("Duration of CSI calls from the agent to drivers")
        .classicUpperBounds(.1, .25, .5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600)
        .labelNames("driver_name", "method_name", "grpc_status_code", "migrated").register(metrics);
  }

  @Override
  public <Req extends Message, Resp> Future<Resp> call(String driver, String endpoint, ServiceMethod<Resp, Req> method, Req request) {
    if (LOG.isDebugEnabled()) {
      LOG.debug("{} {} {}", driver, method.fullMethodName(), SecretRedactor.toLogString(request));
    }
    GrpcUnixClient client = clients.computeIfAbsent(endpoint, e -> new GrpcUnixClient(vertx, UnixEndpoint.parse(e)));
    long start = System.nanoTime();
    return client.call(method, request, deadline).onComplete(ar -> {
      String code = ar.succeeded() ? "OK" : ar.cause() instanceof GrpcCallException g ? statusName(g.status()) : "unknown-non-grpc";
      seconds.labelValues(driver, "/" + method.fullMethodName(), code, "false").observe((System.nanoTime() - start) / 1e9);
    });
  }

  /** Status names as grpc-go prints them (OK, DeadlineExceeded, ...), which is what the kubelet's label carries. */
  static String statusName(GrpcStatus s) {
    StringBuilder b = new StringBuilder();
    for (String part : s.name().split("_")) {
      b.append(part.charAt(0)).append(part.substring(1).toLowerCase());
    }
    return b.toString();
  }

  @Override
  public void forget(String endpoint) {
    GrpcUnixClient c = clients.remove(endpoint);
    if (c != null) {
      c.close();
    }
  }

  @Override
  public void close() {
    clients.values().forEach(GrpcUnixClient::close);
    clients.clear();
  }
}
