package dev.csinode.plugins;

import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.pluginregistration.v1.*;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Test double: a plugin's registration socket with a scripted GetInfo answer; records every notification. GetInfo
 * may be held back: the socket listens, but answers only once {@link #answerGetInfo()} is called (a registrar that
 * is still starting).
 */
final class TestRegistrationPlugin implements AutoCloseable {
  final GrpcUnixServer server;
  private final Vertx vertx;
  private final Promise<Void> answering;
  final List<RegistrationStatus> notifications = new CopyOnWriteArrayList<>();
  final AtomicInteger getInfoCalls = new AtomicInteger();

  TestRegistrationPlugin(Vertx vertx, Path socket, PluginInfo info, boolean hangGetInfo) {
    this(vertx, socket, info, hangGetInfo, true);
  }

  /** @param answering whether GetInfo answers from the start; if not, calls wait for {@link #answerGetInfo()} */
  TestRegistrationPlugin(Vertx vertx, Path socket, PluginInfo info, boolean hangGetInfo, boolean answering) {
    this.vertx = vertx;
    this.answering = Promise.promise();
    if (answering) {
      this.answering.complete();
    }
    RegistrationService service = new RegistrationService() {
      @Override
      public Future<PluginInfo> getInfo(InfoRequest r) {
        getInfoCalls.incrementAndGet();
        return hangGetInfo ? Promise.<PluginInfo>promise().future() : TestRegistrationPlugin.this.answering.future().map(info);
      }

      @Override
      public Future<RegistrationStatusResponse> notifyRegistrationStatus(RegistrationStatus s) {
        notifications.add(s);
        return Future.succeededFuture(RegistrationStatusResponse.getDefaultInstance());
      }
    };
    this.server = Await.result(GrpcUnixServer.start(vertx, socket, List.of(RegistrationGrpcService.of(service))));
  }

  static PluginInfo csi(String name, String endpoint, String... versions) {
    return PluginInfo.newBuilder().setType("CSIPlugin").setName(name).setEndpoint(endpoint)
        .addAllSupportedVersions(versions.length == 0 ? List.of("1.0.0") : List.of(versions)).build();
  }

  /** From now on GetInfo answers, the calls waiting included. */
  void answerGetInfo() {
    vertx.runOnContext(v -> answering.tryComplete());
  }

  RegistrationStatus lastNotification() {
    return notifications.isEmpty() ? null : notifications.get(notifications.size() - 1);
  }

  @Override
  public void close() {
    Await.result(server.close());
  }
}
