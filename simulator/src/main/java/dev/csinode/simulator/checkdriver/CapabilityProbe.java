package dev.csinode.simulator.checkdriver;

import dev.csinode.csi.v1.ControllerGetCapabilitiesRequest;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.ControllerServiceCapability;
import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.PluginCapability;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketCheck;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.driver.DriverHarness;
import dev.csinode.simulator.driver.DriverProcess;
import dev.csinode.simulator.driver.DriverUnderTest;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * Reads a driver's {@link DriverCapabilities} over its CSI socket: GetPluginInfo (after Probe says ready, as the
 * simulator's harness waits for a driver), GetPluginCapabilities, ControllerGetCapabilities (UNIMPLEMENTED: no
 * Controller service), NodeGetCapabilities and NodeGetInfo. A driver given as a command is started for the questions
 * (as {@code simulate --driver-command} starts it, {@value DriverProcess#ENDPOINT_PLACEHOLDER} standing for its
 * socket) and killed after them.
 */
public final class CapabilityProbe {
  static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);
  /** A starting driver gets this long to serve its socket and answer Probe and GetPluginInfo. */
  static final Duration START_WAIT = Duration.ofSeconds(30);
  /** Bounds the whole probe, so that a driver that never answers cannot hold check-driver. */
  private static final Duration WHOLE_PROBE = START_WAIT.multipliedBy(2).plus(CALL_TIMEOUT.multipliedBy(6));

  private CapabilityProbe() {}

  /** Why the driver's capabilities could not be read: check-driver stops there (exit 2). */
  public static final class Failure extends Exception {
    public Failure(String message) {
      super(message);
    }
  }

  /**
   * The capabilities of the driver under test ({@link DriverUnderTest.Endpoint} or {@link DriverUnderTest.Command});
   * a command runs in {@code dir} (its socket, log and working directory there) and is killed before this returns.
   */
  public static DriverCapabilities probe(DriverUnderTest driver, Path dir) throws Failure {
    return probe(driver, dir, p -> { });
  }

  /** As {@link #probe(DriverUnderTest, Path)}; {@code started} gets the command's process first, for a forced stop. */
  public static DriverCapabilities probe(DriverUnderTest driver, Path dir, Consumer<DriverProcess> started) throws Failure {
    Vertx vertx = Vertx.vertx();
    try {
      if (driver instanceof DriverUnderTest.Endpoint e) {
        requireServed(e.endpoint());
        return await(ask(vertx, e.endpoint(), driver), driver);
      }
      if (driver instanceof DriverUnderTest.Command c) {
        Path base = dir.toAbsolutePath().normalize();
        DriverProcess process = new DriverProcess(vertx, c.argv(), new UnixEndpoint(base.resolve("driver").resolve("csi.sock")),
            base.resolve("driver.log"), START_WAIT);
        started.accept(process);
        DriverCapabilities answered;
        try {
          answered = await(process.start().compose(v -> ask(vertx, process.endpoint(), driver)), driver);
        } catch (Failure e) {
          stop(process, driver); // its own failure, if any, says less than the probe's
          throw e;
        }
        String stopFailure = stop(process, driver);
        if (stopFailure != null) {
          throw new Failure(stopFailure);
        }
        return answered;
      }
      throw new Failure("check-driver probes a driver given by its endpoint or as a command, not " + driver.describe());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure("interrupted while probing " + driver.describe());
    } finally {
      vertx.close();
    }
  }

  /** Kills the command's process tree; what went wrong, or null. */
  private static String stop(DriverProcess process, DriverUnderTest driver) throws InterruptedException {
    try {
      process.kill().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException | TimeoutException e) {
      return driver.describe() + ": could not be stopped after the probe: " + e.getMessage();
    }
  }

  /** An endpoint nothing serves would only time out later: say so at once. */
  private static void requireServed(UnixEndpoint endpoint) throws Failure {
    Path socket = endpoint.path();
    if (!Files.exists(socket)) {
      throw new Failure("no socket at " + socket + ": start the driver first (or give it as --driver-command)");
    }
    if (!SocketFiles.isSocket(socket)) {
      throw new Failure(socket + " is not a socket: give the driver's CSI socket as --driver-endpoint unix://PATH");
    }
    SocketCheck check = SocketFiles.check(socket);
    if (check.liveness() == SocketCheck.Liveness.CHANGING) {
      throw new Failure("the socket at " + socket + " was replaced while it was checked (the driver restarting?): "
          + "try again once the driver is up");
    }
    if (!check.served()) {
      throw new Failure("nothing serves " + socket + " (a socket left by a driver that exited?): start the driver first "
          + "(or give it as --driver-command)");
    }
  }

  private static DriverCapabilities await(Future<DriverCapabilities> probe, DriverUnderTest driver)
      throws Failure, InterruptedException {
    try {
      return probe.toCompletionStage().toCompletableFuture().get(WHOLE_PROBE.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new Failure("cannot read the capabilities of " + driver.describe() + ": " + cause.getMessage());
    } catch (TimeoutException e) {
      throw new Failure(driver.describe() + " did not answer the probe within " + WHOLE_PROBE.toSeconds() + " s");
    }
  }

  /** The questions, one after the other, once the driver answers Probe and GetPluginInfo. */
  static Future<DriverCapabilities> ask(Vertx vertx, UnixEndpoint endpoint, DriverUnderTest driver) {
    long deadline = System.nanoTime() + START_WAIT.toNanos();
    return DriverHarness.answers(vertx, endpoint, driver, deadline).compose(ready -> {
      GrpcUnixClient client = new GrpcUnixClient(vertx, endpoint);
      Answers a = new Answers();
      return client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), CALL_TIMEOUT)
          .compose(info -> {
            a.info = info;
            return named("GetPluginCapabilities", client.call(IdentityGrpcClient.GetPluginCapabilities,
                GetPluginCapabilitiesRequest.getDefaultInstance(), CALL_TIMEOUT));
          })
          .compose(caps -> {
            for (PluginCapability c : caps.getCapabilitiesList()) {
              if (c.hasService()) {
                a.plugin.add(c.getService().getType().name());
              }
            }
            return client.call(ControllerGrpcClient.ControllerGetCapabilities,
                ControllerGetCapabilitiesRequest.getDefaultInstance(), CALL_TIMEOUT).transform(ar -> {
                  if (ar.succeeded()) {
                    a.controllerService = true;
                    for (ControllerServiceCapability c : ar.result().getCapabilitiesList()) {
                      if (c.hasRpc()) {
                        a.controller.add(c.getRpc().getType().name());
                      }
                    }
                    return Future.succeededFuture();
                  }
                  if (ar.cause() instanceof GrpcCallException g && g.status() == GrpcStatus.UNIMPLEMENTED) {
                    return Future.succeededFuture(); // a node-only driver: no Controller service
                  }
                  return Future.failedFuture(failed("ControllerGetCapabilities", ar.cause()));
                });
          })
          .compose(v -> named("NodeGetCapabilities", client.call(NodeGrpcClient.NodeGetCapabilities,
              NodeGetCapabilitiesRequest.getDefaultInstance(), CALL_TIMEOUT)))
          .compose(caps -> {
            for (NodeServiceCapability c : caps.getCapabilitiesList()) {
              if (c.hasRpc()) {
                a.node.add(c.getRpc().getType().name());
              }
            }
            return named("NodeGetInfo", client.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance(), CALL_TIMEOUT));
          })
          .map(info -> new DriverCapabilities(a.info.getName(), a.info.getVendorVersion(), a.plugin, a.controller, a.node,
              info.getMaxVolumesPerNode(), a.controllerService))
          .onComplete(ar -> client.close());
    });
  }

  /** What has been answered so far. */
  private static final class Answers {
    private GetPluginInfoResponse info;
    private final Set<String> plugin = new LinkedHashSet<>();
    private final Set<String> controller = new LinkedHashSet<>();
    private final Set<String> node = new LinkedHashSet<>();
    private boolean controllerService;
  }

  private static <T> Future<T> named(String method, Future<T> call) {
    return call.recover(err -> Future.failedFuture(failed(method, err)));
  }

  private static IllegalStateException failed(String method, Throwable err) {
    String why = err instanceof GrpcCallException g
        ? g.status() + (g.statusMessage() == null || g.statusMessage().isEmpty() ? "" : " \"" + g.statusMessage() + "\"")
        : String.valueOf(err.getMessage());
    return new IllegalStateException(method + " failed: " + why, err);
  }
}
