package dev.csinode.grpc;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.net.SocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * An HTTP (1.1 and h2c) server on a UNIX socket that owns its path: claims it by
 * {@link SocketFiles#claimForListening}, sets the mode after binding, and removes the socket on close
 * unless a successor already serves it. gRPC servers and the agent's JSON API are both built on it.
 */
public final class UnixHttpListener {
  private final Vertx vertx;
  private final Path path;
  private final HttpServer server;

  private UnixHttpListener(Vertx vertx, Path path, HttpServer server) {
    this.vertx = vertx;
    this.path = path;
    this.server = server;
  }

  public static Future<UnixHttpListener> listen(Vertx vertx, Path path, Set<PosixFilePermission> mode,
                                                Handler<HttpServerRequest> handler) {
    return vertx.<Void>executeBlocking(() -> {
      SocketFiles.claimForListening(path);
      return null;
    }, false).compose(v -> vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(true))
        .requestHandler(handler).listen(SocketAddress.domainSocketAddress(path.toString())))
        .compose(http -> vertx.executeBlocking(() -> {
          try {
            Files.setPosixFilePermissions(path, mode);
          } catch (IOException e) {
            http.close();
            throw e;
          }
          return new UnixHttpListener(vertx, path, http);
        }, false));
  }

  public Path path() {
    return path;
  }

  /** Stops listening and removes the socket file if it is still ours. */
  public Future<Void> close() {
    return server.close().eventually(() -> vertx.executeBlocking(() -> {
      if (SocketFiles.isSocket(path) && !SocketFiles.isServed(path)) {
        Files.deleteIfExists(path);
      }
      return null;
    }, false));
  }
}
