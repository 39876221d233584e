package dev.csinode.agent.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.csinode.grpc.UnixHttpListener;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerRequest;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.function.Supplier;

/**
 * The agent's local API: HTTP with JSON bodies on a UNIX socket (mode 0600, so only root and the agent's
 * user may use it). {@code GET /v1/status} returns the status report. Usable with
 * {@code curl --unix-socket <root>/csi-node-agent.sock http://localhost/v1/status}.
 */
public final class AgentApiServer {
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private final UnixHttpListener listener;

  private AgentApiServer(UnixHttpListener listener) {
    this.listener = listener;
  }

  public static Future<AgentApiServer> start(Vertx vertx, Path socket, Supplier<Object> status) {
    return UnixHttpListener.listen(vertx, socket, PosixFilePermissions.fromString("rw-------"), req -> handle(req, status))
        .map(AgentApiServer::new);
  }

  private static void handle(HttpServerRequest req, Supplier<Object> status) {
    try {
      if (req.path().equals("/v1/status") && req.method().name().equals("GET")) {
        req.response().putHeader("content-type", "application/json").end(JSON.writeValueAsString(status.get()));
      } else {
        req.response().setStatusCode(404).putHeader("content-type", "application/json")
            .end("{\"error\":\"no such endpoint: " + req.method() + " " + req.path() + "; try GET /v1/status\"}");
      }
    } catch (Exception e) {
      req.response().setStatusCode(500).end("{\"error\":\"" + String.valueOf(e.getMessage()).replace("\"", "'") + "\"}");
    }
  }

  public Path path() {
    return listener.path();
  }

  public Future<Void> stop() {
    return listener.close();
  }
}
