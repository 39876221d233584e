package dev.csinode.agent.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.csinode.agent.api.AgentApi.ApiError;
import dev.csinode.agent.api.AgentApi.ApiException;
import dev.csinode.agent.api.AgentApi.Deleted;
import dev.csinode.agent.api.AgentApi.Orphans;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.grpc.UnixHttpListener;
import dev.csinode.util.GoDuration;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Optional;

/**
 * The agent's local API: HTTP with JSON bodies on a UNIX socket (mode 0600, so only root and the agent's
 * user may use it), e.g. {@code curl --unix-socket <root>/csi-node-agent.sock http://localhost/v1/status}.
 * <ul>
 *   <li>{@code GET /v1/status}: drivers, pods, volumes</li>
 *   <li>{@code POST /v1/objects}: body = manifest (YAML or JSON; Pod, PVC, PV, StorageClass, CSIDriver, Secret)</li>
 *   <li>{@code GET /v1/pods/<namespace>/<name>}: the pod's volume status; {@code ?wait=30s} waits until ready</li>
 *   <li>{@code DELETE /v1/pods/<namespace>/<name>}, and for any pushed object
 *       {@code DELETE /v1/objects/<Kind>/<namespace>/<name>} (namespace {@code _} for cluster-scoped kinds)</li>
 *   <li>{@code GET /v1/orphans}: orphaned pod directories and what a cleanup would do (dry run);
 *       {@code POST /v1/orphans/cleanup} removes those that can go now</li>
 *   <li>{@code GET /v1/persistentvolumes}: the volumes the agent provisioned; {@code DELETE /v1/persistentvolumes/<name>}
 *       deletes one no claim is bound to and no pod uses</li>
 * </ul>
 */
public final class AgentApiServer {
  /** The longest {@code ?wait=} a pod request may ask for. */
  static final Duration MAX_WAIT = Duration.ofHours(24);
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  /** The default largest request body: manifests are kilobytes; a node's worth of pods in one request fits. */
  public static final long DEFAULT_MAX_BODY_BYTES = 4L << 20;
  /** How long the rest of a refused body is read and dropped before the connection is closed anyway. */
  static final long LINGER_MILLIS = 2_000;

  /** A body over the limit: answered 413, and the connection closed rather than the rest kept. */
  private static final class TooLarge extends RuntimeException {
    TooLarge(String message) {
      super(message);
    }
  }

  private final UnixHttpListener listener;

  private AgentApiServer(UnixHttpListener listener) {
    this.listener = listener;
  }

  public static Future<AgentApiServer> start(Vertx vertx, Path socket, AgentApi api) {
    return start(vertx, socket, api, DEFAULT_MAX_BODY_BYTES);
  }

  /** Serves the API; a request body above {@code maxBodyBytes} is refused with 413 before it is read. */
  public static Future<AgentApiServer> start(Vertx vertx, Path socket, AgentApi api, long maxBodyBytes) {
    return UnixHttpListener.listen(vertx, socket, PosixFilePermissions.fromString("rw-------"), req -> handle(req, api, maxBodyBytes))
        .map(AgentApiServer::new);
  }

  /**
   * The body, at most {@code max} bytes: a larger Content-Length is refused before a byte is read, and a body
   * without one (chunked) as soon as it passes the limit, so a huge request costs neither memory nor a worker.
   */
  private static Future<Buffer> body(HttpServerRequest req, long max) {
    String what = req.method() + " " + req.path();
    String declared = req.getHeader(HttpHeaders.CONTENT_LENGTH);
    if (declared != null) {
      long length;
      try {
        length = Long.parseLong(declared.trim());
      } catch (NumberFormatException e) {
        return Future.failedFuture(new IllegalArgumentException("invalid Content-Length '" + declared + "'"));
      }
      if (length > max) {
        return Future.failedFuture(new TooLarge("the body of " + what + " is " + length + " bytes; the limit is " + max
            + " bytes (run --api-max-body-size): split the manifest into several requests"));
      }
    }
    Promise<Buffer> read = Promise.promise();
    Buffer content = Buffer.buffer();
    req.handler(chunk -> {
      if (read.future().isComplete()) {
        return;
      }
      if (content.length() + (long) chunk.length() > max) {
        read.tryFail(new TooLarge("the body of " + what + " is larger than the limit of " + max
            + " bytes (run --api-max-body-size): split the manifest into several requests"));
      } else {
        content.appendBuffer(chunk);
      }
    });
    req.exceptionHandler(read::tryFail);
    req.endHandler(v -> read.tryComplete(content));
    return read.future();
  }

  private static void handle(HttpServerRequest req, AgentApi api, long maxBodyBytes) {
    String[] parts = req.path().split("/");
    try {
      if (req.path().equals("/v1/status") && req.method() == HttpMethod.GET) {
        reply(req, 200, api.status());
      } else if (req.path().equals("/v1/objects") && req.method() == HttpMethod.POST) {
        body(req, maxBodyBytes).compose(body -> {
          String manifest = body.toString(StandardCharsets.UTF_8);
          if (manifest.isBlank()) {
            return Future.failedFuture(new IllegalArgumentException(
                "the body of POST /v1/objects is empty: send a manifest (YAML or JSON: Pod, PersistentVolumeClaim, ...)"));
          }
          return api.apply(manifest);
        }).onComplete(ar -> {
          if (ar.succeeded()) {
            reply(req, ar.result().applied().isEmpty() ? 400 : 200, ar.result());
          } else {
            fail(req, ar.cause());
          }
        });
      } else if (parts.length == 6 && parts[1].equals("v1") && parts[2].equals("objects") && req.method() == HttpMethod.DELETE) {
        String kind = parts[3];
        api.deleteObject(kind, parts[4], parts[5]).onComplete(ar -> {
          if (ar.failed()) {
            fail(req, ar.cause());
          } else {
            String what = kind + " " + parts[4] + "/" + parts[5];
            reply(req, ar.result() ? 200 : 404, ar.result() ? new Deleted(what) : new ApiError("no " + what + " was pushed through the API"));
          }
        });
      } else if ((req.path().equals("/v1/orphans") && req.method() == HttpMethod.GET)
          || (req.path().equals("/v1/orphans/cleanup") && req.method() == HttpMethod.POST)) {
        api.orphans(req.method() == HttpMethod.POST).onComplete(ar -> {
          if (ar.succeeded()) {
            reply(req, 200, new Orphans(ar.result()));
          } else {
            fail(req, new ApiException(503, ar.cause().getMessage()));
          }
        });
      } else if (req.path().equals("/v1/persistentvolumes") && req.method() == HttpMethod.GET) {
        reply(req, 200, api.persistentVolumes());
      } else if (parts.length == 4 && parts[1].equals("v1") && parts[2].equals("persistentvolumes") && req.method() == HttpMethod.DELETE) {
        api.deletePersistentVolume(parts[3]).onComplete(ar -> {
          if (ar.succeeded()) {
            reply(req, 200, ar.result());
          } else {
            fail(req, ar.cause());
          }
        });
      } else if (parts.length == 5 && parts[1].equals("v1") && parts[2].equals("pods")) {
        String ns = parts[3];
        String name = parts[4];
        if (req.method() == HttpMethod.DELETE) {
          api.deletePod(ns, name).onComplete(ar -> {
            if (ar.failed()) {
              fail(req, ar.cause());
            } else {
              reply(req, ar.result() ? 200 : 404, ar.result() ? new Deleted(ns + "/" + name)
                  : new ApiError("no pod " + ns + "/" + name + " was pushed through the API"));
            }
          });
        } else if (req.method() == HttpMethod.GET && req.getParam("wait") != null) {
          Duration timeout = GoDuration.parse(req.getParam("wait"));
          if (timeout.compareTo(MAX_WAIT) > 0) {
            // A timer of that length would overflow its milliseconds, and the request would never be answered.
            reply(req, 400, new ApiError("wait=" + req.getParam("wait") + " is longer than " + MAX_WAIT.toHours() + "h; wait less, again if need be"));
            return;
          }
          api.waitReady(ns, name, timeout).onComplete(ar -> {
            if (ar.succeeded()) {
              reply(req, 200, ar.result());
            } else {
              fail(req, ar.cause());
            }
          });
        } else if (req.method() == HttpMethod.GET) {
          Optional<PodStatus> pod = api.pod(ns, name);
          if (pod.isPresent()) {
            reply(req, 200, pod.get());
          } else {
            reply(req, 404, new ApiError("pod " + ns + "/" + name + " is unknown"));
          }
        } else {
          reply(req, 405, new ApiError(req.method() + " is not allowed on " + req.path()));
        }
      } else {
        reply(req, 404, new ApiError("no such endpoint: " + req.method() + " " + req.path()
            + "; see GET /v1/status, POST /v1/objects, GET|DELETE /v1/pods/<namespace>/<name>, DELETE /v1/objects/<Kind>/<namespace>/<name>, GET /v1/orphans, "
            + "POST /v1/orphans/cleanup, GET /v1/persistentvolumes, DELETE /v1/persistentvolumes/<name>"));
      }
    } catch (RuntimeException e) {
      fail(req, e);
    }
  }

  private static void fail(HttpServerRequest req, Throwable err) {
    if (err instanceof TooLarge) {
      // The answer goes at once, and nothing more is kept. The connection is not closed on the spot: closing a UNIX
      // socket with unread data makes the sender's kernel report a reset, and a client still sending would lose
      // the answer. What still arrives is dropped as it comes (memory stays flat), and the connection is closed
      // when the request ends or after LINGER_MILLIS, whichever is first (HTTP/2 streams end on their own).
      if (req.version() != HttpVersion.HTTP_2) {
        Vertx vertx = Vertx.currentContext().owner();
        HttpConnection connection = req.connection();
        long linger = vertx.setTimer(LINGER_MILLIS, t -> connection.close());
        req.exceptionHandler(e -> { });
        req.handler(dropped -> { });
        req.endHandler(v -> {
          vertx.cancelTimer(linger);
          connection.close();
        });
        req.resume();
      }
      reply(req, 413, new ApiError(err.getMessage()));
      return;
    }
    int status = err instanceof ApiException a ? a.status() : err instanceof IllegalArgumentException ? 400 : 500;
    reply(req, status, new ApiError(String.valueOf(err.getMessage())));
  }

  /** Answers with the record as JSON: its fields, by name. */
  private static void reply(HttpServerRequest req, int status, Record body) {
    try {
      req.response().setStatusCode(status).putHeader("content-type", "application/json").end(JSON.writeValueAsString(body));
    } catch (Exception e) {
      req.response().setStatusCode(500).end("{\"error\":\"cannot serialize the answer\"}");
    }
  }

  public Path path() {
    return listener.path();
  }

  public Future<Void> stop() {
    return listener.close();
  }
}
