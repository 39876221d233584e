package dev.csinode.simulator.driver;

import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.proxy.FaultProxy;
import dev.csinode.simulator.proxy.FaultRules;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClient;
import io.vertx.core.net.NetServer;
import io.vertx.core.net.SocketAddress;

/**
 * Test double for the fault proxy: forwards each connection's bytes to the driver unchanged, no gRPC, no trace,
 * for the harness's tests while the real proxy is written elsewhere.
 */
final class PassThroughProxy implements DriverHarness.ProxyHandle {
  private final UnixEndpoint listen;
  private final NetServer server;
  private final NetClient client;

  private PassThroughProxy(UnixEndpoint listen, NetServer server, NetClient client) {
    this.listen = listen;
    this.server = server;
    this.client = client;
  }

  /** The real fault proxy with no rules once it is written (its stub throws); this forwarder until then. */
  static DriverHarness.ProxyStarter starter() {
    try {
      FaultRules none = FaultRules.none();
      return (vertx, listen, target) -> FaultProxy.start(vertx, listen, target, none, new Trace(), FaultProxy.Checks.none())
          .map(DriverHarness.ProxyHandle::of);
    } catch (UnsupportedOperationException stub) {
      return PassThroughProxy::start;
    }
  }

  static Future<DriverHarness.ProxyHandle> start(Vertx vertx, UnixEndpoint listen, UnixEndpoint target) {
    NetClient client = vertx.createNetClient();
    NetServer server = vertx.createNetServer();
    SocketAddress to = SocketAddress.domainSocketAddress(target.path().toString());
    server.connectHandler(in -> {
      in.pause();
      client.connect(to).onSuccess(out -> {
        in.pipeTo(out);
        out.pipeTo(in);
      }).onFailure(err -> in.close());
    });
    return vertx.executeBlocking(() -> {
      SocketFiles.claimForListening(listen.path());
      return null;
    }, false).compose(v -> server.listen(SocketAddress.domainSocketAddress(listen.path().toString())))
        .map(s -> new PassThroughProxy(listen, server, client));
  }

  @Override
  public UnixEndpoint listen() {
    return listen;
  }

  @Override
  public Future<Void> close() {
    return server.close().eventually(client::close);
  }

  @Override
  public FaultProxy faultProxy() {
    return null;
  }
}
