package dev.csinode.simulator.driver;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.plugins.registrar.Registrar;
import dev.csinode.simulator.proxy.FaultProxy;
import dev.csinode.simulator.proxy.FaultRules;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver under test as the simulated node sees it: started (or found), a {@link FaultProxy} in front of it, and
 * the proxy's socket registered with the node through {@code <root>/plugins_registry} by a {@link Registrar}, as
 * node-driver-registrar registers a driver. Every CSI call the node makes so goes through the proxy; the harness's
 * own questions (name, capabilities, readiness) go to the driver directly and are not traced.
 */
public final class DriverHarness {
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
  static final Duration ANSWER_WAIT = Duration.ofSeconds(30);
  static final Duration REGISTRATION_WAIT = Duration.ofSeconds(60);
  /** sun_path holds 108 bytes with its terminating NUL. */
  private static final int MAX_SOCKET_PATH = 107;
  private static final Logger LOG = LoggerFactory.getLogger(DriverHarness.class);

  private final Vertx vertx;
  private final DriverUnderTest driver;
  private final Control control;
  private final ProxyHandle proxy;
  private final Path registryDir;
  private volatile Registrar registrar;
  private final String driverName;
  private final boolean stageUnstage;

  private DriverHarness(Vertx vertx, DriverUnderTest driver, Control control, ProxyHandle proxy, Path registryDir,
                        Registrar registrar, String driverName, boolean stageUnstage) {
    this.vertx = vertx;
    this.registryDir = registryDir;
    this.driver = driver;
    this.control = control;
    this.proxy = proxy;
    this.registrar = registrar;
    this.driverName = driverName;
    this.stageUnstage = stageUnstage;
  }

  /**
   * Starts (or finds) the driver, the proxy in front of it (its socket in the work dir) and the registrar in
   * {@code registryDir}; completes when the node accepted the registration.
   */
  public static Future<DriverHarness> start(Vertx vertx, DriverUnderTest driver, Path workDir, Path registryDir, String nodeName,
                                            FaultRules rules, Trace trace, FaultProxy.Checks checks) {
    return start(vertx, driver, workDir, registryDir, nodeName,
        (v, listen, target) -> FaultProxy.start(v, listen, target, rules, trace, checks).map(ProxyHandle::of));
  }

  /** With another proxy: tests of the harness alone put a plain forwarder in front of the driver. */
  static Future<DriverHarness> start(Vertx vertx, DriverUnderTest driver, Path workDir, Path registryDir, String nodeName,
                                     ProxyStarter proxyStarter) {
    Path dir = workDir.toAbsolutePath().normalize();
    UnixEndpoint driverSocket = new UnixEndpoint(dir.resolve("driver").resolve("csi.sock"));
    UnixEndpoint proxySocket = new UnixEndpoint(dir.resolve("proxy.sock"));
    Control control;
    try {
      checkLength(driverSocket);
      checkLength(proxySocket);
      control = control(vertx, driver, dir, driverSocket, nodeName);
    } catch (IllegalArgumentException e) {
      return Future.failedFuture(e);
    }
    Holder made = new Holder();
    return control.start()
        .compose(endpoint -> answers(vertx, endpoint, driver, System.nanoTime() + ANSWER_WAIT.toNanos())
            .compose(name -> stageUnstage(vertx, endpoint).compose(stage -> proxyStarter.start(vertx, proxySocket, endpoint)
                .compose(p -> {
                  made.proxy = p;
                  return register(vertx, registrar(driver), p.listen(), registryDir, r -> made.registrar = r);
                })
                .map(r -> {
                  LOG.info("driver {} ({}) registered with the node through the proxy {}", name, driver.describe(), made.proxy.listen());
                  return new DriverHarness(vertx, driver, control, made.proxy, registryDir, made.registrar, name, stage);
                }))))
        .recover(err -> {
          Future<Void> undo = Future.succeededFuture();
          if (made.registrar != null) {
            undo = undo.eventually(made.registrar::stop);
          }
          if (made.proxy != null) {
            undo = undo.eventually(made.proxy::close);
          }
          return undo.eventually(control::close).transform(ar -> Future.failedFuture(err));
        });
  }

  /** Java 17: no pattern switch over the sealed cases yet. */
  private static Control control(Vertx vertx, DriverUnderTest driver, Path dir, UnixEndpoint driverSocket, String nodeName) {
    if (driver instanceof DriverUnderTest.Endpoint e) {
      return new Found(() -> Future.succeededFuture(e.endpoint()));
    }
    if (driver instanceof DriverUnderTest.RegistrationDir r) {
      return new Found(() -> RegistrationDiscovery.find(vertx, r.dir()).map(d -> UnixEndpoint.parse(d.endpoint())));
    }
    if (driver instanceof DriverUnderTest.Command c) {
      return new ProcessControl(vertx, new DriverProcess(vertx, c.argv(), driverSocket, dir.resolve("driver.log"),
          DriverProcess.SERVE_WAIT));
    }
    DriverUnderTest.InProcess p = (DriverUnderTest.InProcess) driver;
    return new InProcessControl(vertx, p.driver(), driverSocket, dir.resolve("driver").resolve("state"), nodeName);
  }

  private static void checkLength(UnixEndpoint socket) {
    if (socket.path().toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
      throw new IllegalArgumentException("the socket path " + socket.path() + " is longer than the " + MAX_SOCKET_PATH
          + " bytes a UNIX socket address holds; choose a shorter work directory");
    }
  }

  /**
   * Serves the registration socket for the proxy's endpoint, as node-driver-registrar does; completes when the node
   * accepted it. {@code started} gets the registrar as soon as it serves, so a caller can stop it on a failure.
   */
  private static Future<Registrar> register(Vertx vertx, DriverUnderTest.RegistrarStarter registrar, UnixEndpoint proxy,
                                            Path registryDir, Consumer<Registrar> started) {
    return registrar.start(vertx, proxy, proxy.path().toString(), registryDir, ANSWER_WAIT, CALL_TIMEOUT)
        .compose(r -> {
          started.accept(r);
          return accepted(vertx, r, registryDir).map(r);
        });
  }

  /** The registrar the driver under test comes with (a test's), else the project's. */
  private static DriverUnderTest.RegistrarStarter registrar(DriverUnderTest driver) {
    return driver instanceof DriverUnderTest.InProcess p && p.registrar() != null ? p.registrar() : Registrar::start;
  }

  /** The node's NotifyRegistrationStatus(true), bounded; its refusal fails with the node's reason. */
  private static Future<Void> accepted(Vertx vertx, Registrar registrar, Path registryDir) {
    Promise<Void> settled = Promise.promise();
    registrar.accepted().onComplete(settled);
    registrar.rejection().onFailure(settled::tryFail);
    long timer = vertx.setTimer(REGISTRATION_WAIT.toMillis(), t -> settled.tryFail(new IllegalStateException("the node did not "
        + "accept driver " + registrar.driverName() + " within " + REGISTRATION_WAIT.toSeconds() + " s of its registration in "
        + registryDir + "; is the agent running with that root?")));
    return settled.future().onComplete(ar -> vertx.cancelTimer(timer));
  }

  /** Probe and GetPluginInfo, tried until both answer (a starting driver may say it is not ready yet); the name. */
  public static Future<String> answers(Vertx vertx, UnixEndpoint endpoint, DriverUnderTest driver, long deadlineNanos) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, endpoint);
    return client.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), CALL_TIMEOUT)
        .compose(probe -> probe.hasReady() && !probe.getReady().getValue()
            ? Future.failedFuture(new IllegalStateException("Probe answers not ready"))
            : client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), CALL_TIMEOUT))
        .map(GetPluginInfoResponse::getName)
        .onComplete(ar -> client.close())
        .recover(err -> {
          if (System.nanoTime() > deadlineNanos) {
            return Future.failedFuture(new IllegalStateException(driver.describe() + " at " + endpoint.path()
                + " did not answer Probe and GetPluginInfo within " + ANSWER_WAIT.toSeconds() + " s: " + err.getMessage(), err));
          }
          Promise<String> later = Promise.promise();
          vertx.setTimer(200, t -> answers(vertx, endpoint, driver, deadlineNanos).onComplete(later));
          return later.future();
        });
  }

  private static Future<Boolean> stageUnstage(Vertx vertx, UnixEndpoint endpoint) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, endpoint);
    return client.call(NodeGrpcClient.NodeGetCapabilities, NodeGetCapabilitiesRequest.getDefaultInstance(), CALL_TIMEOUT)
        .map(caps -> caps.getCapabilitiesList().stream().filter(NodeServiceCapability::hasRpc)
            .anyMatch(c -> c.getRpc().getType() == NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME))
        .recover(err -> Future.failedFuture(new IllegalStateException("NodeGetCapabilities on " + endpoint.path()
            + " failed: " + err.getMessage(), err)))
        .onComplete(ar -> client.close());
  }

  /** The proxy, or null when a test put a plain forwarder in its place. */
  public FaultProxy proxy() {
    return proxy.faultProxy();
  }

  /** The socket the node reaches the driver at: the proxy's. */
  public UnixEndpoint nodeEndpoint() {
    return proxy.listen();
  }

  /** The driver's own socket (behind the proxy). */
  public UnixEndpoint driverEndpoint() {
    return control.endpoint();
  }

  /** The registration socket the node knows the driver by; null while the driver is stopped. */
  public Path registrationSocket() {
    Registrar r = registrar;
    return r == null ? null : r.socket();
  }

  /** The driver's name, from GetPluginInfo. */
  public String driverName() {
    return driverName;
  }

  /** Whether NodeGetCapabilities announced STAGE_UNSTAGE_VOLUME. */
  public boolean stageUnstage() {
    return stageUnstage;
  }

  /** Whether the harness runs the driver and so can kill and start it. */
  public boolean canRestart() {
    return control.canRestart();
  }

  /**
   * Kills the driver and starts it again (its container restarts, the registrar beside it does not); completes when
   * it answers. The registration stays: the node keeps reaching the proxy's socket, which stays too.
   */
  public Future<Void> restartDriver() {
    if (!control.canRestart()) {
      return Future.failedFuture(cannotRestart());
    }
    LOG.info("restarting {}", driver.describe());
    return control.stop().compose(v -> driverBack());
  }

  /**
   * The driver's pod goes, as on a node going down: its registrar stops serving (the node deregisters the driver)
   * and the driver is killed. The proxy stays, to forward to the driver that {@link #startDriver} brings back.
   */
  public Future<Void> stopDriver() {
    if (!control.canRestart()) {
      return Future.failedFuture(cannotRestart());
    }
    LOG.info("stopping {} and its registration", driver.describe());
    Registrar r = registrar;
    registrar = null;
    return (r == null ? Future.<Void>succeededFuture() : r.stop()).compose(v -> control.stop());
  }

  /** The driver's pod comes back: the driver starts, then registers again; completes when the node accepted it. */
  public Future<Void> startDriver() {
    if (!control.canRestart()) {
      return Future.failedFuture(cannotRestart());
    }
    if (registrar != null) {
      return Future.failedFuture(new IllegalStateException(driver.describe() + " is running already; stop it first"));
    }
    LOG.info("starting {}", driver.describe());
    return driverBack().compose(v -> register(vertx, registrar(driver), proxy.listen(), registryDir, r -> registrar = r)).mapEmpty();
  }

  private Future<Void> driverBack() {
    return control.start().compose(endpoint -> answers(vertx, endpoint, driver, System.nanoTime() + ANSWER_WAIT.toNanos()))
        .compose(name -> name.equals(driverName) ? Future.succeededFuture() : Future.failedFuture(new IllegalStateException(
            driver.describe() + " came back as '" + name + "' instead of '" + driverName + "'")));
  }

  private IllegalStateException cannotRestart() {
    return new IllegalStateException(driver.describe() + " is run by someone else, so the simulator cannot stop or start it; "
        + "give it as a command (--driver-command, with {endpoint} for its socket) for the steps that restart the driver "
        + "or reboot the node");
  }

  /** Stops the registrar (the node deregisters the driver), the proxy, and the driver if the harness started it. */
  public Future<Void> stop() {
    Registrar r = registrar;
    registrar = null;
    return (r == null ? Future.<Void>succeededFuture() : r.stop()).eventually(proxy::close).eventually(control::close);
  }

  /** What is made before a failure, to undo. */
  private static final class Holder {
    ProxyHandle proxy;
    Registrar registrar;
  }

  /** Starts the proxy in front of the driver. */
  @FunctionalInterface
  interface ProxyStarter {
    Future<ProxyHandle> start(Vertx vertx, UnixEndpoint listen, UnixEndpoint target);
  }

  /** A started proxy: the fault proxy, or a test's plain forwarder. */
  interface ProxyHandle {
    UnixEndpoint listen();

    Future<Void> close();

    /** Null for a plain forwarder. */
    FaultProxy faultProxy();

    static ProxyHandle of(FaultProxy proxy) {
      return new ProxyHandle() {
        @Override
        public UnixEndpoint listen() {
          return proxy.listen();
        }

        @Override
        public Future<Void> close() {
          return proxy.close();
        }

        @Override
        public FaultProxy faultProxy() {
          return proxy;
        }
      };
    }
  }

  /** How the harness has the driver. */
  private sealed interface Control permits Found, ProcessControl, InProcessControl {
    /** Starts (or finds) it; yields its endpoint. */
    Future<UnixEndpoint> start();

    Future<Void> stop();

    /** The end of the harness: stopped if the harness started it, and what the harness made removed. */
    default Future<Void> close() {
      return stop();
    }

    UnixEndpoint endpoint();

    boolean canRestart();
  }

  /** A driver someone else runs: found once, never stopped. */
  private static final class Found implements Control {
    private final Supplier<Future<UnixEndpoint>> find;
    private volatile UnixEndpoint endpoint;

    Found(Supplier<Future<UnixEndpoint>> find) {
      this.find = find;
    }

    @Override
    public Future<UnixEndpoint> start() {
      if (endpoint != null) {
        return Future.succeededFuture(endpoint);
      }
      return find.get().onSuccess(e -> endpoint = e);
    }

    @Override
    public Future<Void> stop() {
      return Future.succeededFuture();
    }

    @Override
    public UnixEndpoint endpoint() {
      return endpoint;
    }

    @Override
    public boolean canRestart() {
      return false;
    }
  }

  /** A command the harness runs; its socket, left behind by a SIGKILL, is removed at the end when nothing serves it. */
  private static final class ProcessControl implements Control {
    private final Vertx vertx;
    private final DriverProcess process;

    ProcessControl(Vertx vertx, DriverProcess process) {
      this.vertx = vertx;
      this.process = process;
    }

    @Override
    public Future<UnixEndpoint> start() {
      return process.start().map(process.endpoint());
    }

    @Override
    public Future<Void> stop() {
      return process.kill();
    }

    /**
     * The kill leaves the driver's socket behind, at the path the harness chose: removed if nothing serves it and
     * no other process is replacing it meanwhile.
     */
    @Override
    public Future<Void> close() {
      Path socket = process.endpoint().path();
      return process.kill().compose(v -> vertx.executeBlocking(() -> SocketFiles.removeIfStale(socket), false)).mapEmpty();
    }

    @Override
    public UnixEndpoint endpoint() {
      return process.endpoint();
    }

    @Override
    public boolean canRestart() {
      return true;
    }
  }

  /** A driver in this process, on the harness's Vert.x: a restart stops and starts it on the same socket and state. */
  private static final class InProcessControl implements Control {
    private final Vertx vertx;
    private final BundledDriver driver;
    private final UnixEndpoint endpoint;
    private final Path stateDir;
    private final String nodeName;
    private volatile BundledDriver.Running running;

    InProcessControl(Vertx vertx, BundledDriver driver, UnixEndpoint endpoint, Path stateDir, String nodeName) {
      this.vertx = vertx;
      this.driver = driver;
      this.endpoint = endpoint;
      this.stateDir = stateDir;
      this.nodeName = nodeName;
    }

    @Override
    public Future<UnixEndpoint> start() {
      return vertx.executeBlocking(() -> Files.createDirectories(stateDir), false)
          .compose(d -> driver.start(vertx, endpoint, nodeName, stateDir))
          .map(r -> {
            running = r;
            return endpoint;
          });
    }

    @Override
    public Future<Void> stop() {
      BundledDriver.Running r = running;
      running = null;
      return r == null ? Future.succeededFuture() : r.stop();
    }

    @Override
    public UnixEndpoint endpoint() {
      return endpoint;
    }

    @Override
    public boolean canRestart() {
      return true;
    }
  }
}
