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
 * {@link SocketFiles#claimForListening}, sets the mode after binding, and removes the socket on close if the path
 * still holds the very socket it bound and nothing listens on it (a successor's socket is never removed).
 * gRPC servers and the agent's JSON API are both built on it.
 */
public final class UnixHttpListener {
  private final Vertx vertx;
  private final Path path;
  private final HttpServer server;
  /** The socket file this listener bound (read after its mode was set, which changes its ctime). */
  private final SocketCheck.FileIdentity socket;

  private UnixHttpListener(Vertx vertx, Path path, HttpServer server, SocketCheck.FileIdentity socket) {
    this.vertx = vertx;
    this.path = path;
    this.server = server;
    this.socket = socket;
  }

  public static Future<UnixHttpListener> listen(Vertx vertx, Path path, Set<PosixFilePermission> mode,
                                                Handler<HttpServerRequest> handler) {
    return vertx.<Void>executeBlocking(() -> {
      SocketFiles.claimForListening(path);
      return null;
    }, false).compose(v -> vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(true))
        .requestHandler(handler).connectionHandler(FlushBatching.INSTANCE).listen(SocketAddress.domainSocketAddress(path.toString())))
        .compose(http -> vertx.executeBlocking(() -> {
          try {
            Files.setPosixFilePermissions(path, mode);
          } catch (IOException e) {
            http.close();
            throw e;
          }
          return new UnixHttpListener(vertx, path, http, SocketFiles.identity(path));
        }, false));
  }

  public Path path() {
    return path;
  }

  /**
   * Stops listening and removes the socket file if it is still ours. Netty's close of a domain socket server
   * already unlinks the path unconditionally (NioServerDomainSocketChannel.doClose), right after it stops
   * listening: what is left to this method is a file Netty could not remove.
   */
  public Future<Void> close() {
    return server.close().eventually(() -> vertx.executeBlocking(() -> {
      SocketCheck check = SocketFiles.check(path);
      if (socket != null && socket.equals(check.file())) {
        SocketFiles.removeIfUnchanged(check);
      }
      return null;
    }, false));
  }
}
