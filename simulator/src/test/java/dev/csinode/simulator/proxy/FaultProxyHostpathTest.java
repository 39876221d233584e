package dev.csinode.simulator.proxy;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.CreateVolumeResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ListVolumesRequest;
import dev.csinode.csi.v1.ListVolumesResponse;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy between the project's own gRPC client (the agent's) and the bundled hostpath driver. */
class FaultProxyHostpathTest {
  @TempDir Path dir;
  Vertx vertx;
  HostpathDriver driver;
  FaultProxy proxy;
  GrpcUnixClient node;
  final Trace trace = new Trace();

  @BeforeEach
  void start() throws Exception {
    vertx = Vertx.vertx();
    UnixEndpoint driverSocket = new UnixEndpoint(dir.resolve("plugins/hostpath/csi.sock"));
    driver = await(HostpathDriver.start(vertx, new HostpathConfig(driverSocket, "proxy-node", dir.resolve("state"),
        "proxied.example.com", 0, 1L << 30, false)));
    proxy = await(FaultProxy.start(vertx, new UnixEndpoint(dir.resolve("proxy/csi.sock")), driverSocket,
        FaultRules.of(List.of(new FaultRule("lost-create", "CreateVolume", null, 1, null, null, FaultAction.LOSE_ANSWER,
            null, null, null)), 1), trace, FaultProxy.Checks.none()));
    node = new GrpcUnixClient(vertx, proxy.listen());
  }

  @AfterEach
  void stop() throws Exception {
    node.close();
    await(proxy.close());
    await(driver.stop());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  @Test
  void answersPassAndALostAnswerLeavesTheWorkDone() throws Exception {
    assertEquals("proxied.example.com", await(node.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(),
        Duration.ofSeconds(10))).getName());
    assertEquals("proxy-node", await(node.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance(),
        Duration.ofSeconds(10))).getNodeId());
    GrpcCallException invalid = assertThrows(GrpcCallException.class, () -> await(node.call(NodeGrpcClient.NodeStageVolume,
        NodeStageVolumeRequest.getDefaultInstance(), Duration.ofSeconds(10))));
    assertEquals(GrpcStatus.INVALID_ARGUMENT, invalid.status(), invalid.toString());
    assertFalse(invalid.statusMessage().isEmpty());

    CreateVolumeRequest create = CreateVolumeRequest.newBuilder().setName("pvc-lost")
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(1 << 20))
        .addVolumeCapabilities(VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance())
            .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
        .build();
    GrpcCallException lost = assertThrows(GrpcCallException.class, () -> await(node.call(ControllerGrpcClient.CreateVolume, create,
        Duration.ofSeconds(10))));
    assertEquals(GrpcStatus.DEADLINE_EXCEEDED, lost.status());
    ListVolumesResponse listed = await(node.call(ControllerGrpcClient.ListVolumes, ListVolumesRequest.getDefaultInstance(),
        Duration.ofSeconds(10)));
    assertEquals(1, listed.getEntriesCount(), "the driver did the work whose answer was lost");
    CreateVolumeResponse again = await(node.call(ControllerGrpcClient.CreateVolume, create, Duration.ofSeconds(10)));
    assertEquals(listed.getEntries(0).getVolume().getVolumeId(), again.getVolume().getVolumeId(), "the retry gets that volume");

    List<CsiCall> calls = trace.calls();
    assertEquals(List.of("GetPluginInfo OK", "NodeGetInfo OK", "NodeStageVolume INVALID_ARGUMENT", "CreateVolume DEADLINE_EXCEEDED",
        "ListVolumes OK", "CreateVolume OK"), calls.stream().map(c -> c.method() + " " + c.code()).toList());
    assertEquals("lost-create", calls.get(3).fault());
    assertNull(calls.get(5).fault(), "nth: 1 applied once");
  }

  /** A call the node still waits for is visible as in flight (end -1, no code), so a run that ends meanwhile judges it. */
  @Test
  void aHungCallIsReportedInFlightUntilTheNodeGivesUp() throws Exception {
    proxy.rules(FaultRules.of(List.of(new FaultRule("hang-probe", "Probe", null, null, null, null, FaultAction.HANG,
        null, null, null)), 1));
    Future<ProbeResponse> probe = node.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), Duration.ofSeconds(3));
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    // a condition with a bound, not a guess: the call arrives, and its rule is chosen, within the node's deadline
    while (proxy.inFlight().stream().noneMatch(c -> c.fault() != null) && System.nanoTime() < until) {
      Thread.sleep(5);
    }
    List<CsiCall> waiting = proxy.inFlight();
    assertEquals(1, waiting.size(), waiting::toString);
    assertEquals("Probe", waiting.get(0).method());
    assertEquals("hang-probe", waiting.get(0).fault());
    assertTrue(waiting.get(0).inFlight());
    assertNull(waiting.get(0).code());
    assertTrue(trace.calls().stream().noneMatch(c -> c.method().equals("Probe")), "not recorded while in flight");
    assertTrue(probe.toCompletionStage().toCompletableFuture().handle((r, e) -> e != null).get(30, TimeUnit.SECONDS),
        "the node gave up at its deadline");
    until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!proxy.inFlight().isEmpty() && System.nanoTime() < until) {
      Thread.sleep(5);
    }
    assertTrue(proxy.inFlight().isEmpty(), "recorded once the node gave up");
    assertTrue(trace.calls().stream().anyMatch(c -> c.method().equals("Probe") && !c.inFlight()), trace.calls()::toString);
  }
}
