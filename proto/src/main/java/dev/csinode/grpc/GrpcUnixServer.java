package dev.csinode.grpc;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.Service;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gRPC server listening on a UNIX socket.
 *
 * <p>Socket ownership is decided here, not by the transport: NIO refuses to bind over any file and
 * epoll silently unlinks any file, so neither is safe. The rule: something answers at the path, refuse;
 * a dead socket, remove it and bind; anything that is not a socket, refuse and leave it alone.
 */
public final class GrpcUnixServer {
  private static final Logger LOG = LoggerFactory.getLogger(GrpcUnixServer.class);
  /** Default mode of CSI endpoint sockets: owner and group may connect. */
  public static final Set<PosixFilePermission> DEFAULT_MODE = PosixFilePermissions.fromString("rw-rw----");

  private final Vertx vertx;
  private final Path path;
  private final HttpServer httpServer;

  private GrpcUnixServer(Vertx vertx, Path path, HttpServer httpServer) {
    this.vertx = vertx;
    this.path = path;
    this.httpServer = httpServer;
  }

  public static Future<GrpcUnixServer> start(Vertx vertx, Path path, List<Service> services) {
    return start(vertx, path, DEFAULT_MODE, services);
  }

  /** Claims the socket path, binds the services and listens; fails with {@link SocketInUseException} when the path is taken. */
  public static Future<GrpcUnixServer> start(Vertx vertx, Path path, Set<PosixFilePermission> mode, List<Service> services) {
    return vertx.<Void>executeBlocking(() -> {
      claim(path);
      return null;
    }, false).compose(v -> {
      GrpcServer grpc = GrpcServer.server(vertx);
      services.forEach(grpc::addService);
      HttpServer http = vertx.createHttpServer(new HttpServerOptions().setHttp2ClearTextEnabled(true));
      http.requestHandler(grpc);
      return http.listen(SocketAddress.domainSocketAddress(path.toString()));
    }).compose(http -> vertx.executeBlocking(() -> {
      try {
        Files.setPosixFilePermissions(path, mode);
      } catch (IOException e) {
        http.close();
        throw e;
      }
      return new GrpcUnixServer(vertx, path, http);
    }, false));
  }

  /** Makes the path bindable, or throws if doing so would harm another program or a non-socket file. */
  static void claim(Path path) throws IOException {
    Path parent = path.getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!SocketFiles.isSocket(path)) {
      throw new SocketInUseException(path, "cannot listen on " + path + ": the path exists and is not a socket; "
          + "move that file away or choose another endpoint");
    }
    if (SocketFiles.isServed(path)) {
      throw new SocketInUseException(path, "cannot listen on " + path + ": another process is serving this socket; "
          + "stop it first or choose another endpoint");
    }
    LOG.info("removing stale socket {} (nothing listens on it)", path);
    Files.deleteIfExists(path);
  }

  public Path path() {
    return path;
  }

  public Vertx vertx() {
    return vertx;
  }

  /** Stops listening and removes the socket file. */
  public Future<Void> close() {
    return httpServer.close().eventually(() -> vertx.executeBlocking(() -> {
      // Only remove what is still ours: a dead socket at our path. A successor may already have bound it.
      if (SocketFiles.isSocket(path) && !SocketFiles.isServed(path)) {
        Files.deleteIfExists(path);
      }
      return null;
    }, false));
  }
}
