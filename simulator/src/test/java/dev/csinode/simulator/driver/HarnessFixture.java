package dev.csinode.simulator.driver;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.Agent;
import dev.csinode.agent.TestDirectories;
import dev.csinode.agent.VolumeManager;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.simulator.node.SimulatedNode;
import dev.csinode.testing.PrivateMountNamespace;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A simulated node with real mounts (in the private mount namespace the suite runs in) and a Vert.x for the harness,
 * all under one temporary directory that is cleaned up after: mounts, loop devices, files.
 */
abstract class HarnessFixture {
  static final String NODE = "node-sim";
  static final String HOSTPATH = "hostpath.csinode.dev";
  Path tmp;
  Path work;
  Vertx vertx;
  SimulatedNode node;
  DriverHarness harness;

  @BeforeEach
  void startNode() throws Exception {
    PrivateMountNamespace.require();
    tmp = Files.createTempDirectory("sim-h-");
    work = Files.createDirectories(tmp.resolve("w"));
    vertx = Vertx.vertx();
    node = await(SimulatedNode.start(new SimulatedNode.Options(tmp.resolve("root"), NODE, options(), null, tmp)));
  }

  /** Fast backoff and resync, so retries after a restart come quickly. */
  static VolumeManager.Options options() {
    return new VolumeManager.Options(16, Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofMillis(200), Duration.ofSeconds(30),
        Duration.ofMinutes(1), true);
  }

  @AfterEach
  void stopAll() throws Exception {
    try {
      if (harness != null) {
        await(harness.stop());
      }
      if (node != null) {
        await(node.stop());
      }
      await(vertx.close());
    } finally {
      var left = MountTable.read().under(tmp);
      for (int i = left.size() - 1; i >= 0; i--) {
        new Mounter().unmountAll(Path.of(left.get(i).mountPoint()));
      }
      for (String l : LoopDevices.list()) {
        if (l.contains(tmp.toString())) {
          new LoopDevices().detach(l.split(" ")[0]);
        }
      }
      TestDirectories.remove(tmp);
    }
  }

  Path registry() {
    return tmp.resolve("root").resolve("plugins_registry");
  }

  Agent agent() {
    return node.agent();
  }

  static <T> T await(Future<T> f) throws Exception {
    try {
      return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception ex) {
        throw ex;
      }
      throw e;
    } catch (TimeoutException e) {
      throw new AssertionError("not completed within 120 s", e);
    }
  }

  static String failure(Future<?> f) throws Exception {
    try {
      Object r = await(f);
      throw new AssertionError("expected a failure, got " + r);
    } catch (AssertionError e) {
      throw e;
    } catch (Exception e) {
      return e.getMessage();
    }
  }

  /** Objects as the scenario engine applies them: through the agent's API. */
  void apply(String yaml) throws Exception {
    var result = await(agent().apply(yaml));
    assertTrue(result.errors().isEmpty(), () -> "refused: " + result.errors());
  }

  void podReady(String name) throws Exception {
    await(agent().waitReady("default", name, Duration.ofSeconds(60)));
  }

  /** How many calls of the CSI method the current agent made (its metrics start at zero with each incarnation). */
  long csiCalls(String method) {
    long n = 0;
    for (MetricSnapshot s : agent().metrics().scrape()) {
      if (s instanceof HistogramSnapshot h && s.getMetadata().getName().equals("csi_operations_seconds")) {
        for (var p : h.getDataPoints()) {
          if (p.getLabels().get("method_name").endsWith("/" + method)) {
            n += p.getCount();
          }
        }
      }
    }
    return n;
  }

  /** CreateVolume on the hostpath driver behind the harness (asked directly, not through the node). */
  String createVolume(String name, String kind) throws Exception {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, harness.driverEndpoint())) {
      return await(c.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
          .putParameters("kind", kind).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(32L << 20))
          .addVolumeCapabilities(VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance())
              .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
          .build(), Duration.ofSeconds(30))).getVolume().getVolumeId();
    }
  }

  static final String CSI_DRIVER = """
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata:
        name: hostpath.csinode.dev
      spec:
        attachRequired: false
        podInfoOnMount: true
        volumeLifecycleModes: [Persistent, Ephemeral]
      """;

  /** A PersistentVolume of the hostpath driver with a claim bound to it, and a pod using the claim; all named {@code name}. */
  static String podWithClaim(String name, String uid, String handle) {
    return """
        apiVersion: v1
        kind: PersistentVolume
        metadata:
          name: %1$s
        spec:
          capacity: {storage: 32Mi}
          accessModes: [ReadWriteOnce]
          claimRef: {namespace: default, name: %1$s}
          csi:
            driver: hostpath.csinode.dev
            volumeHandle: %3$s
            fsType: ext4
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: %1$s
          namespace: default
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 32Mi}}
          volumeName: %1$s
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: %1$s
          namespace: default
          uid: %2$s
        spec:
          containers:
          - name: app
            image: busybox
            volumeMounts:
            - {name: data, mountPath: /data}
          volumes:
          - name: data
            persistentVolumeClaim: {claimName: %1$s}
        """.formatted(name, uid, handle);
  }

  /** A pod with one inline (ephemeral) volume of the hostpath driver. */
  static String podWithInlineVolume(String name, String uid) {
    return """
        apiVersion: v1
        kind: Pod
        metadata:
          name: %1$s
          namespace: default
          uid: %2$s
        spec:
          containers:
          - name: app
            image: busybox
            volumeMounts:
            - {name: data, mountPath: /data}
          volumes:
          - name: data
            csi: {driver: hostpath.csinode.dev}
        """.formatted(name, uid);
  }

  UnixEndpoint unix(Path p) {
    return new UnixEndpoint(p);
  }
}
