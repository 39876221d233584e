package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import dev.csinode.testing.PrivateMountNamespace;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** The agent, its bundled driver and a manifests directory, with real mounts in a private mount namespace; helpers for end-to-end tests. */
abstract class AgentFixture {
  static final String DRIVER = "hostpath.csinode.dev";
  Path root;
  Path manifests;
  Vertx vertx;
  Agent agent;

  @BeforeEach
  void start() throws Exception {
    PrivateMountNamespace.require();
    root = Files.createTempDirectory("cna-test-");
    manifests = Files.createDirectories(root.resolve("manifests"));
    write("csidriver.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata:
          name: hostpath.csinode.dev
        spec:
          attachRequired: false
          podInfoOnMount: true
          volumeLifecycleModes: [Persistent, Ephemeral]
        """);
    vertx = Vertx.vertx();
    agent = newAgent();
    Await.result(agent.start());
    eventually(() -> agent.drivers().get(DRIVER).isPresent(), () -> "driver not registered: " + agent.status());
  }

  /** Fast backoff and resync, so tests see retries and housekeeping passes quickly. */
  VolumeManager.Options options() {
    return options(Duration.ofMillis(200), Duration.ofMillis(200), true);
  }

  /** The fixture's fast backoff with a test's own resync, volume stats period and orphan removal. */
  static VolumeManager.Options options(Duration resync, Duration volumeStats, boolean removeOrphans) {
    return new VolumeManager.Options(16, Duration.ofMillis(100), Duration.ofSeconds(2), resync, Duration.ofSeconds(30),
        volumeStats, removeOrphans);
  }

  /** An agent on this test's root and manifests, with the bundled driver and metrics on a free port (not started). */
  Agent newAgent() {
    return new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), manifests, options(),
        "127.0.0.1:0", false));
  }

  @AfterEach
  void stop() throws Exception {
    try {
      Await.result(agent.stop());
      Await.result(vertx.close());
    } finally {
      var left = MountTable.read().under(root);
      for (int i = left.size() - 1; i >= 0; i--) {
        new Mounter().unmountAll(Path.of(left.get(i).mountPoint()));
      }
      for (String l : LoopDevices.list()) {
        if (l.contains(root.toString())) {
          new LoopDevices().detach(l.split(" ")[0]);
        }
      }
      TestDirectories.remove(root);
    }
  }

  void write(String name, String yaml) throws Exception {
    Path tmp = manifests.resolve("." + name + ".tmp");
    Files.writeString(tmp, yaml);
    Files.move(tmp, manifests.resolve(name), java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  static void eventually(BooleanSupplier condition, Supplier<String> describe) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not reached in 30 s: " + describe.get());
      }
      Thread.sleep(10);
    }
  }

  Optional<PodStatus> pod(String key) {
    return agent.volumeManager().pods().stream().filter(p -> p.pod().equals(key)).findFirst();
  }

  boolean ready(String key) {
    return pod(key).map(PodStatus::ready).orElse(false);
  }

  String volumeHandle(String name, String kind) {
    return volumeHandle(DRIVER, name, kind);
  }

  /** CreateVolume on a hostpath driver running under {@code <root>/plugins/<driver>}. */
  String volumeHandle(String driver, String name, String kind) {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins").resolve(driver).resolve("csi.sock")))) {
      return Await.result(c.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
          .putParameters("kind", kind).setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(32L << 20))
          .addVolumeCapabilities(VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance())
              .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
          .build(), Duration.ofSeconds(30))).getVolume().getVolumeId();
    }
  }

  /** A PersistentVolume of the driver and a claim bound to it, both named {@code name}. */
  static String boundClaim(String name, String driver, String handle, String fsType, String extraCsiYaml) {
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
            driver: %2$s
            volumeHandle: %3$s
            fsType: "%4$s"
        %5$s
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
        """.formatted(name, driver, handle, fsType, extraCsiYaml.indent(4).stripTrailing());
  }

  static String claimVolume(String claim) {
    return """
        - name: data
          persistentVolumeClaim:
            claimName: %s
        """.formatted(claim);
  }

  /** Writes {@code <name>.yaml}: a pod with one inline volume {@code data} of the bundled driver; waits until it is ready. */
  void inlinePodReady(String name, String uid) throws Exception {
    write(name + ".yaml", pod(name, uid, """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    eventually(() -> ready("default/" + name), () -> "" + pod("default/" + name));
  }

  static String pod(String name, String uid, String volumesYaml) {
    return """
        apiVersion: v1
        kind: Pod
        metadata:
          name: %s
          namespace: default
          uid: %s
        spec:
          containers:
          - name: app
            image: busybox
            volumeMounts:
            - name: data
              mountPath: /data
          volumes:
        %s""".formatted(name, uid, volumesYaml.indent(2));
  }

  /** HTTP/1.1 as Prometheus scrapes; the JDK's default h2c upgrade can leave a request unanswered in a tight loop. */
  static final java.util.function.IntFunction<java.net.URI> URI_FOR_METRICS =
      port -> java.net.URI.create("http://127.0.0.1:" + port + "/metrics");
  static final java.net.http.HttpClient HTTP = java.net.http.HttpClient.newBuilder()
      .version(java.net.http.HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();

  String scrape() throws Exception {
    var resp = HTTP.send(java.net.http.HttpRequest.newBuilder(URI_FOR_METRICS.apply(agent.metricsPort()))
        .timeout(Duration.ofSeconds(10)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertEquals(200, resp.statusCode());
    return resp.body();
  }

  /**
   * A sample line of the metric that contains every given part (label order is the library's business);
   * a part starting with "} " is the value and must end the line.
   */
  static boolean hasSample(String text, String metric, String... parts) {
    return text.lines().anyMatch(l -> l.startsWith(metric + "{") && java.util.Arrays.stream(parts)
        .allMatch(p -> p.startsWith("} ") ? l.endsWith(p) : l.contains(p)));
  }

  int driverVolumeCount() {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins/hostpath.csinode.dev/csi.sock")))) {
      return Await.result(c.call(ControllerGrpcClient.ListVolumes, dev.csinode.csi.v1.ListVolumesRequest.getDefaultInstance(),
          Duration.ofSeconds(10))).getEntriesCount();
    }
  }

  /**
   * Names of the PersistentVolumes the agent keeps as provisioned: the live records of its log, folded here line
   * by line (the agent holds the log open, so it is not opened a second time).
   */
  java.util.Set<String> provisionedRecords() {
    Path log = root.resolve("csi-node-agent/provisioned.log");
    java.util.Set<String> names = new java.util.TreeSet<>();
    var json = new com.fasterxml.jackson.databind.ObjectMapper();
    try {
      for (String line : Files.exists(log) ? linesBeforeNul(Files.readAllBytes(log)) : java.util.List.<String>of()) {
        var node = json.readTree(line);
        if (node.hasNonNull("value")) {
          names.add(node.get("key").asText());
        } else {
          names.remove(node.get("key").asText());
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return names;
  }

  record RunningDriver(dev.csinode.hostpath.HostpathDriver driver, dev.csinode.plugins.registrar.Registrar registrar) {
    void stop() {
      Await.result(registrar.stop());
      Await.result(driver.stop());
    }
  }

  RunningDriver startDriver(String name) {
    return startDriver(name, false);
  }

  /** A hostpath driver and its registrar in this JVM, like a driver pod with its node-driver-registrar. */
  RunningDriver startDriver(String name, boolean attachRequired) {
    var cfg = new dev.csinode.hostpath.HostpathConfig(new UnixEndpoint(root.resolve("plugins").resolve(name).resolve("csi.sock")),
        "node-e2e", root.resolve("plugins").resolve(name).resolve("state"), name, 0, 1L << 30, attachRequired);
    var d = Await.result(dev.csinode.hostpath.HostpathDriver.start(vertx, cfg));
    return new RunningDriver(d, register(cfg.endpoint().path()));
  }

  /** Registers the driver serving this socket with the agent, as its node-driver-registrar would; stop it after. */
  dev.csinode.plugins.registrar.Registrar register(Path csiSocket) {
    return Await.result(dev.csinode.plugins.registrar.Registrar.start(vertx, new UnixEndpoint(csiSocket), csiSocket.toString(),
        root.resolve("plugins_registry"), Duration.ofSeconds(10), Duration.ofSeconds(5)));
  }

  /** A record log's lines as its reader takes them: up to the first NUL (zeros written ahead of the next group). */
  static java.util.List<String> linesBeforeNul(byte[] content) {
    int end = 0;
    while (end < content.length && content[end] != 0) {
      end++;
    }
    return new String(content, 0, end, java.nio.charset.StandardCharsets.UTF_8).lines().toList();
  }
}
