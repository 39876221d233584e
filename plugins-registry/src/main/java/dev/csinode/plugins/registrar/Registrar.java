package dev.csinode.plugins.registrar;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.pluginregistration.v1.RegistrationGrpcService;
import dev.csinode.pluginregistration.v1.RegistrationService;
import dev.csinode.pluginregistration.v1.RegistrationStatus;
import dev.csinode.pluginregistration.v1.RegistrationStatusResponse;
import dev.csinode.plugins.registration.PluginInfoValidation;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver side of plugin registration, as node-driver-registrar does it: wait for the CSI driver's socket,
 * learn its name with GetPluginInfo, then serve {@code pluginregistration.Registration} on
 * {@code <registration-dir>/<driver>-reg.sock}, answering GetInfo with the host path of the driver socket.
 * A NotifyRegistrationStatus(false) fails {@link #rejection()}; callers stop (the CLI exits non-zero so a
 * supervisor restarts it, which re-creates the socket and so re-registers).
 */
public final class Registrar {
  private static final Logger LOG = LoggerFactory.getLogger(Registrar.class);
  public static final List<String> SUPPORTED_VERSIONS = List.of("1.0.0");

  private final GrpcUnixServer server;
  private final String driverName;
  private final Promise<Void> rejection;
  private final Promise<Void> accepted;

  private Registrar(GrpcUnixServer server, String driverName, Promise<Void> rejection, Promise<Void> accepted) {
    this.server = server;
    this.driverName = driverName;
    this.rejection = rejection;
    this.accepted = accepted;
  }

  /**
   * @param csiAddress the driver socket as this process reaches it
   * @param kubeletRegistrationPath the driver socket as the agent reaches it (announced in GetInfo)
   * @param registrationDir the agent's plugins_registry directory as this process reaches it
   */
  public static Future<Registrar> start(Vertx vertx, UnixEndpoint csiAddress, String kubeletRegistrationPath,
                                        Path registrationDir, Duration waitForDriver, Duration callTimeout) {
    long deadline = System.nanoTime() + waitForDriver.toNanos();
    return waitForSocket(vertx, csiAddress.path(), deadline)
        .compose(v -> pluginInfo(vertx, csiAddress, callTimeout, deadline))
        .compose(info -> {
          String name = info.getName();
          if (!PluginInfoValidation.isValidDriverName(name)) {
            return Future.failedFuture(new IllegalStateException("driver at " + csiAddress + " reports name '" + name
                + "', which is not a valid CSI driver name"));
          }
          Promise<Void> rejection = Promise.promise();
          Promise<Void> accepted = Promise.promise();
          PluginInfo answer = PluginInfo.newBuilder().setType(PluginInfoValidation.CSI_PLUGIN).setName(name)
              .setEndpoint(kubeletRegistrationPath).addAllSupportedVersions(SUPPORTED_VERSIONS).build();
          RegistrationService service = new RegistrationService() {
            @Override
            public Future<PluginInfo> getInfo(InfoRequest request) {
              return Future.succeededFuture(answer);
            }

            @Override
            public Future<RegistrationStatusResponse> notifyRegistrationStatus(RegistrationStatus status) {
              if (status.getPluginRegistered()) {
                LOG.info("driver {} registered with the agent", name);
                accepted.tryComplete();
              } else {
                LOG.error("the agent refused driver {}: {}", name, status.getError());
                rejection.tryFail(new IllegalStateException("registration of driver " + name + " refused: " + status.getError()));
              }
              return Future.succeededFuture(RegistrationStatusResponse.getDefaultInstance());
            }
          };
          Path socket = registrationDir.resolve(name + "-reg.sock");
          return GrpcUnixServer.start(vertx, socket, PosixFilePermissions.fromString("rw-------"),
                  List.of(RegistrationGrpcService.of(service)))
              .map(server -> {
                LOG.info("registrar for driver {} serving {} (endpoint announced: {})", name, socket, kubeletRegistrationPath);
                return new Registrar(server, name, rejection, accepted);
              });
        });
  }

  /**
   * GetPluginInfo, tried again until the deadline: a driver that just started listening may be too slow to answer
   * its first call within the call timeout (a cold JVM on a busy node).
   */
  private static Future<GetPluginInfoResponse> pluginInfo(Vertx vertx, UnixEndpoint csiAddress, Duration callTimeout,
                                                                              long deadlineNanos) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, csiAddress);
    return client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), callTimeout)
        .onComplete(ar -> client.close())
        .recover(err -> {
          if (System.nanoTime() > deadlineNanos) {
            return Future.failedFuture(new IllegalStateException("GetPluginInfo on " + csiAddress + " kept failing: " + err.getMessage()));
          }
          LOG.info("GetPluginInfo on {} failed ({}); trying again", csiAddress, err.getMessage());
          Promise<GetPluginInfoResponse> later = Promise.promise();
          vertx.setTimer(500, t -> pluginInfo(vertx, csiAddress, callTimeout, deadlineNanos).onComplete(later));
          return later.future();
        });
  }

  private static Future<Void> waitForSocket(Vertx vertx, Path socket, long deadlineNanos) {
    return vertx.executeBlocking(() -> SocketFiles.isServed(socket), false).compose(served -> {
      if (served) {
        return Future.succeededFuture();
      }
      if (System.nanoTime() > deadlineNanos) {
        return Future.failedFuture(new IllegalStateException("the CSI driver socket " + socket
            + " did not come up; is the driver running and is --csi-address right?"));
      }
      Promise<Void> later = Promise.promise();
      vertx.setTimer(250, t -> waitForSocket(vertx, socket, deadlineNanos).onComplete(later));
      return later.future();
    });
  }

  public String driverName() {
    return driverName;
  }

  public Path socket() {
    return server.path();
  }

  /** Fails when the agent answers NotifyRegistrationStatus(false); never succeeds. */
  public Future<Void> rejection() {
    return rejection.future();
  }

  /** Completes when the agent answers NotifyRegistrationStatus(true). */
  public Future<Void> accepted() {
    return accepted.future();
  }

  /** Stops serving and removes the registration socket: the agent deregisters the driver. */
  public Future<Void> stop() {
    return server.close();
  }
}
