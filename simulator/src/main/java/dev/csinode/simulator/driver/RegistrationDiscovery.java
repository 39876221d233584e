package dev.csinode.simulator.driver;

import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.pluginregistration.v1.RegistrationGrpcClient;
import dev.csinode.pluginregistration.v1.RegistrationStatus;
import dev.csinode.plugins.csi.CsiPluginHandler;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.plugins.registration.PluginInfoValidation;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the driver under test the way the kubelet finds drivers: each socket in a registration directory is asked
 * GetInfo, the answer is validated with the agent's own rules, the CSI endpoint it names is checked (GetPluginInfo
 * names the same driver, NodeGetInfo, NodeGetCapabilities), and the driver found is told NotifyRegistrationStatus(true).
 * Never false: node-driver-registrar exits on it. Exactly one CSI driver is expected in the directory.
 */
final class RegistrationDiscovery {
  static final Duration GET_INFO_TIMEOUT = Duration.ofSeconds(1);
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
  private static final Logger LOG = LoggerFactory.getLogger(RegistrationDiscovery.class);

  private RegistrationDiscovery() {}

  /** What one socket in the directory answered. */
  private record Answer(Path socket, PluginInfo info, String problem) {
    String describe() {
      if (info == null) {
        return socket.getFileName() + ": " + problem;
      }
      String what = socket.getFileName() + ": " + (info.getType().isEmpty() ? "untyped" : info.getType()) + " plugin '"
          + info.getName() + "'";
      return problem == null ? what : what + " (" + problem + ")";
    }
  }

  /** The CSI driver registered in the directory. */
  static Future<RegisteredDriver> find(Vertx vertx, Path dir) {
    return vertx.executeBlocking(() -> sockets(dir), false)
        .compose(sockets -> Future.all(sockets.stream().map(s -> ask(vertx, s)).toList())
            .map(all -> all.<Answer>list()))
        .compose(answers -> {
          List<Answer> csi = answers.stream().filter(a -> a.info() != null && a.problem() == null).toList();
          String found = answers.isEmpty() ? "no socket" : String.join("; ", answers.stream().map(Answer::describe).toList());
          if (csi.size() != 1) {
            return Future.failedFuture(new IllegalStateException((csi.isEmpty() ? "no CSI driver" : csi.size() + " CSI drivers")
                + " registered in " + dir + ", exactly one expected; found: " + found));
          }
          Answer chosen = csi.get(0);
          return connect(vertx, chosen);
        });
  }

  private static List<Path> sockets(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IllegalStateException("the driver registration directory " + dir + " does not exist or is not a directory");
    }
    try (Stream<Path> list = Files.list(dir)) {
      return list.filter(p -> !p.getFileName().toString().startsWith(".") && SocketFiles.isSocket(p)).sorted().toList();
    }
  }

  /** GetInfo, then the kubelet's validation; a rejected plugin is told why, as the kubelet tells it. */
  private static Future<Answer> ask(Vertx vertx, Path socket) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket));
    return client.call(RegistrationGrpcClient.GetInfo, InfoRequest.getDefaultInstance(), GET_INFO_TIMEOUT)
        .compose(info -> {
          if (!PluginInfoValidation.CSI_PLUGIN.equals(info.getType())) {
            return Future.succeededFuture(new Answer(socket, info, "not a CSI plugin"));
          }
          var problem = PluginInfoValidation.problem(info);
          if (problem.isPresent()) {
            // Never NotifyRegistrationStatus(false): node-driver-registrar exits on it, and the directory may be a
            // live kubelet's whose driver this simulator only looked at.
            return Future.succeededFuture(new Answer(socket, info, problem.get()));
          }
          return Future.succeededFuture(new Answer(socket, info, null));
        }, err -> Future.succeededFuture(new Answer(socket, null, "GetInfo failed: " + err.getMessage())))
        .onComplete(ar -> client.close());
  }

  private static Future<RegisteredDriver> connect(Vertx vertx, Answer chosen) {
    PluginInfo info = chosen.info();
    String endpoint = info.getEndpoint().isEmpty() ? chosen.socket().toString() : info.getEndpoint();
    String version = PluginInfoValidation.highestSupportedVersion(info).orElseThrow();
    GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(chosen.socket()));
    Future<RegisteredDriver> driver;
    try {
      UnixEndpoint parsed = UnixEndpoint.parse(endpoint);
      driver = vertx.executeBlocking(() -> SocketFiles.isSocket(parsed.path()), false).compose(isSocket -> isSocket
          ? new CsiPluginHandler(vertx, CALL_TIMEOUT).connect(info.getName(), parsed.url(), chosen.socket(), version)
          : Future.failedFuture(new IllegalStateException("driver " + info.getName() + " registered in " + chosen.socket()
              + " announces endpoint " + parsed.path() + ", which is not a socket on this host")));
    } catch (IllegalArgumentException e) {
      driver = Future.failedFuture(new IllegalStateException("driver " + info.getName() + " registered in " + chosen.socket()
          + " announces endpoint '" + endpoint + "': " + e.getMessage(), e));
    }
    return driver.compose(d -> notify(client, true, "").map(d)) // never false: see ask
        .onSuccess(d -> LOG.info("found driver {} at {} through {}", d.name(), d.endpoint(), chosen.socket()))
        .onComplete(ar -> client.close());
  }

  /** Best effort, as the kubelet: a plugin that does not take the notification is still what it is. */
  private static Future<Void> notify(GrpcUnixClient client, boolean registered, String error) {
    return client.call(RegistrationGrpcClient.NotifyRegistrationStatus,
            RegistrationStatus.newBuilder().setPluginRegistered(registered).setError(error).build(), CALL_TIMEOUT)
        .onFailure(err -> LOG.warn("NotifyRegistrationStatus({}) on {} failed: {}", registered, client.endpoint(), err.getMessage()))
        .<Void>mapEmpty().otherwiseEmpty();
  }
}
