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

/**
 * A gRPC server listening on a UNIX socket.
 *
 * <p>Socket ownership follows {@link SocketFiles#claimForListening}, not the transport: NIO refuses to bind over any file and
 * epoll silently unlinks any file, so neither is safe. The rule: something answers at the path, refuse;
 * a dead socket, remove it and bind; anything that is not a socket, refuse and leave it alone.
 */
public final class GrpcUnixServer {
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
      SocketFiles.claimForListening(path);
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
