package dev.csinode.simulator.proxy;

import dev.csinode.agent.volume.MountPoints;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.GrpcUnixServer;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.grpc.UnixHttpListener;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.server.GrpcServer;
import io.vertx.grpc.server.GrpcServerOptions;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A CSI proxy between a node and a driver over UNIX sockets: forwards every gRPC method unchanged, records each
 * call in a {@link Trace}, and applies the {@link FaultRules} in force (delay, fail, hang, drop, lose the answer).
 * Rules can be replaced while it runs.
 */
public final class FaultProxy {
  private static final Logger LOG = LoggerFactory.getLogger(FaultProxy.class);
  /** gRPC's usual limit; Vert.x defaults to 256 KiB, less than a driver may send. */
  private static final long MAX_MESSAGE_BYTES = 4L * 1024 * 1024;

  final Vertx vertx;
  final Trace trace;
  final Checks checks;
  final GrpcUnixClient driver;
  private final UnixEndpoint listen;
  private final Consumer<CsiCall> finished;
  private final Set<ProxiedCall> inFlight = ConcurrentHashMap.newKeySet();
  private volatile FaultRules rules;
  private UnixHttpListener listener;

  /**
   * What the proxy checks besides forwarding.
   *
   * @param mounts        where to look whether a stage or publish answered OK left its target mounted
   *                      ({@link dev.csinode.simulator.trace.CsiCall#mountedAfter}); null: not looked at
   * @param repeatToCheck after each NodeStageVolume / NodePublishVolume answered OK, send the same request again
   *                      (recorded as a probe call) to check the driver answers it OK too
   */
  public record Checks(MountPoints mounts, boolean repeatToCheck) {
    public static Checks none() {
      return new Checks(null, false);
    }
  }

  private FaultProxy(Vertx vertx, UnixEndpoint listen, UnixEndpoint target, FaultRules rules, Trace trace, Checks checks,
                     Consumer<CsiCall> finished) {
    this.vertx = vertx;
    this.listen = listen;
    this.rules = Objects.requireNonNull(rules, "rules");
    this.trace = trace;
    this.checks = checks == null ? Checks.none() : checks;
    this.finished = finished;
    this.driver = new GrpcUnixClient(vertx, target);
  }

  /** Listens on {@code listen} and forwards to {@code target}; completes once it serves. */
  public static Future<FaultProxy> start(Vertx vertx, UnixEndpoint listen, UnixEndpoint target, FaultRules rules, Trace trace,
                                         Checks checks) {
    return start(vertx, listen, target, rules, trace, checks, call -> {});
  }

  /** As above; {@code finished} also gets each call as it is recorded (on an event loop: hand blocking work off). */
  public static Future<FaultProxy> start(Vertx vertx, UnixEndpoint listen, UnixEndpoint target, FaultRules rules, Trace trace,
                                         Checks checks, Consumer<CsiCall> finished) {
    FaultProxy proxy = new FaultProxy(vertx, listen, target, rules, trace, checks, finished);
    GrpcServer grpc = GrpcServer.server(vertx, new GrpcServerOptions().setMaxMessageSize(MAX_MESSAGE_BYTES));
    grpc.callHandler(req -> new ProxiedCall(proxy, req).start());
    return UnixHttpListener.listen(vertx, listen.path(), GrpcUnixServer.DEFAULT_MODE, grpc)
        .onFailure(err -> proxy.driver.close())
        .map(listener -> {
          proxy.listener = listener;
          LOG.info("fault proxy listening on {}, forwarding to {}; {}", listen, target, rules);
          return proxy;
        });
  }

  /** The rules for calls that arrive from now on. */
  public void rules(FaultRules rules) {
    this.rules = Objects.requireNonNull(rules, "rules");
  }

  public FaultRules rules() {
    return rules;
  }

  public UnixEndpoint listen() {
    return listen;
  }

  /** Stops listening (removes its socket) and closes the connection to the target. */
  public Future<Void> close() {
    return listener.close().eventually(() -> {
      inFlight.forEach(ProxiedCall::abandon);
      driver.close();
      return Future.succeededFuture();
    });
  }

  /**
   * The calls still waiting for their answer, as they stand (end -1, no code): a scenario that ends while the node
   * waits on a hung call must have that call judged too, not only the calls that finished.
   */
  public List<CsiCall> inFlight() {
    return inFlight.stream().map(ProxiedCall::snapshot).sorted((a, b) -> Long.compare(a.seq(), b.seq())).toList();
  }

  void started(ProxiedCall call) {
    inFlight.add(call);
  }

  void record(ProxiedCall call, CsiCall recorded) {
    inFlight.remove(call);
    add(recorded);
  }

  void add(CsiCall recorded) {
    trace.add(recorded);
    try {
      finished.accept(recorded);
    } catch (RuntimeException e) {
      LOG.warn("recording call {} failed: {}", recorded.seq(), e.toString());
    }
  }
}
