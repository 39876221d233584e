package dev.csinode.plugins.registration;

import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.pluginregistration.v1.RegistrationGrpcClient;
import dev.csinode.pluginregistration.v1.RegistrationStatus;
import dev.csinode.plugins.csi.CsiPluginHandler;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One registration attempt of one socket, in the kubelet's order: dial, GetInfo, validate, register with the
 * CSI handler, then NotifyRegistrationStatus with the outcome. A fresh connection per attempt, as the kubelet.
 */
public final class PluginRegistration {
  private static final Logger LOG = LoggerFactory.getLogger(PluginRegistration.class);
  private final Vertx vertx;
  private final CsiPluginHandler handler;
  private final Duration getInfoTimeout;
  private final Duration notifyTimeout;
  private final Path rootDir;

  public PluginRegistration(Vertx vertx, CsiPluginHandler handler, Duration getInfoTimeout, Duration notifyTimeout, Path rootDir) {
    this.vertx = vertx;
    this.handler = handler;
    this.getInfoTimeout = getInfoTimeout;
    this.notifyTimeout = notifyTimeout;
    this.rootDir = rootDir;
  }

  /**
   * Registers the plugin behind the socket. {@code admit} gets the validated driver name and version before any
   * CSI call to the driver (the kubelet's ValidatePlugin) and may throw to refuse, for example when the name is
   * registered already. {@code install} records the driver before the plugin is told it is registered, and may
   * throw to refuse (for example when the socket was replaced meanwhile). Either refusal reaches the plugin as
   * NotifyRegistrationStatus(false) with the reason.
   */
  public Future<RegisteredDriver> register(Path socket, BiConsumer<String, String> admit, Consumer<RegisteredDriver> install) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket));
    return client.call(RegistrationGrpcClient.GetInfo, InfoRequest.getDefaultInstance(), getInfoTimeout)
        .recover(err -> vertx.executeBlocking(() -> SocketFiles.check(socket), false).compose(check -> Future.failedFuture(
            switch (check.liveness()) {
              case SERVED -> new RegistrationException("GetInfo on " + socket + " failed: " + err.getMessage(), false);
              case CHANGING -> new RegistrationException("the socket " + socket + " was replaced while GetInfo was tried "
                  + "(its plugin restarting?): " + err.getMessage() + "; the agent retries", false);
              case NOT_SERVED -> new RegistrationException("nothing listens on " + socket + ": the plugin that created it "
                  + "has exited or not started yet; the agent leaves the socket in place and retries", true);
            })))
        .compose(info -> validate(socket, info)
            .compose(endpoint -> {
              String version = PluginInfoValidation.highestSupportedVersion(info).orElseThrow();
              admit.accept(info.getName(), version);
              return handler.connect(info.getName(), endpoint, socket, version);
            })
            .map(driver -> {
              install.accept(driver);
              return driver;
            })
            .recover(err -> notify(client, socket, false, err.getMessage())
                .transform(ignored -> Future.<RegisteredDriver>failedFuture(err instanceof RegistrationException
                    ? err : new RegistrationException(err.getMessage(), false)))))
        .compose(driver -> notify(client, socket, true, "").transform(ar -> {
          if (ar.failed()) {
            LOG.warn("driver {} is registered but NotifyRegistrationStatus on {} failed: {}", driver.name(), socket,
                ar.cause().getMessage());
          }
          return Future.succeededFuture(driver);
        }))
        .onComplete(ar -> client.close());
  }

  /** Checks the GetInfo answer; yields the CSI endpoint to use. */
  private Future<String> validate(Path socket, PluginInfo info) {
    var problem = PluginInfoValidation.problem(info);
    if (problem.isPresent()) {
      return Future.failedFuture(new RegistrationException(problem.get(), false));
    }
    String endpoint = info.getEndpoint().isEmpty() ? socket.toString() : info.getEndpoint();
    UnixEndpoint parsed;
    try {
      parsed = UnixEndpoint.parse(endpoint);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(new RegistrationException("driver " + info.getName() + " announces endpoint '"
          + endpoint + "': " + e.getMessage(), false));
    }
    return vertx.executeBlocking(() -> {
      if (!SocketFiles.isSocket(parsed.path())) {
        throw new RegistrationException("driver " + info.getName() + " announces endpoint " + parsed.path()
            + ", which is not a socket on this host; the driver may run with a different kubelet root directory "
            + "(this agent uses " + rootDir + ") or not be started yet", false);
      }
      return parsed.url();
    }, false);
  }

  private Future<Void> notify(GrpcUnixClient client, Path socket, boolean registered, String error) {
    return client.call(RegistrationGrpcClient.NotifyRegistrationStatus,
        RegistrationStatus.newBuilder().setPluginRegistered(registered).setError(error).build(), notifyTimeout)
        .onFailure(err -> LOG.debug("NotifyRegistrationStatus({}) on {} failed: {}", registered, socket, err.getMessage()))
        .mapEmpty();
  }
}
