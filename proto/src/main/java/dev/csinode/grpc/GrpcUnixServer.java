package dev.csinode.grpc;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.Service;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

/**
 * A gRPC server listening on a UNIX socket. Socket ownership follows {@link SocketFiles#claimForListening}
 * (through {@link UnixHttpListener}), not the transport: NIO refuses to bind over any file and epoll silently
 * unlinks any file, so neither is safe on its own.
 */
public final class GrpcUnixServer {
  /** Default mode of CSI endpoint sockets: owner and group may connect. */
  public static final Set<PosixFilePermission> DEFAULT_MODE = PosixFilePermissions.fromString("rw-rw----");

  private final UnixHttpListener listener;

  private GrpcUnixServer(UnixHttpListener listener) {
    this.listener = listener;
  }

  public static Future<GrpcUnixServer> start(Vertx vertx, Path path, List<Service> services) {
    return start(vertx, path, DEFAULT_MODE, services);
  }

  /** Claims the socket path, binds the services and listens; fails with {@link SocketInUseException} when the path is taken. */
  public static Future<GrpcUnixServer> start(Vertx vertx, Path path, Set<PosixFilePermission> mode, List<Service> services) {
    GrpcServer grpc = GrpcServer.server(vertx);
    services.forEach(grpc::addService);
    return UnixHttpListener.listen(vertx, path, mode, grpc).map(GrpcUnixServer::new);
  }

  public Path path() {
    return listener.path();
  }

  /** Stops listening and removes the socket file. */
  public Future<Void> close() {
    return listener.close();
  }
}
