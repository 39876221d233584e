package dev.csinode.agent.provisioner;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.csinode.agent.ProvisioningDriver;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.csi.GrpcCsiNodeClient;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.agent.populator.DesiredStateOfWorldPopulator;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The provisioner with a real gRPC driver double and the populator, without mounts. Garbage objects among good
 * ones, through every evaluation stage (manifest parsing, claim binding,
 * provisioning through a real gRPC driver double, the populator resolving pods): the good pods still get their
 * volumes, the bad objects get errors naming them, and no creation slot is left taken.
 */
class ProvisionerIsolationTest {
  static final String DRIVER = "fuzz.example.com";
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  static final ObjectMapper JSON = new ObjectMapper();

  Vertx vertx;
  /** Removed by JUnit after the test: what the test made goes with it. */
  @TempDir Path tmp;
  Path dir;
  ProvisioningDriver driver;
  Provisioner provisioner;
  Context context;
  static final int MAX_PARALLEL = 64;
  final AtomicReference<ClusterObjects> sources = new AtomicReference<>(ClusterObjects.EMPTY);
  Runnable bind;
  final AtomicReference<DesiredStateOfWorld> desired = new AtomicReference<>(DesiredStateOfWorld.EMPTY);
  final List<Throwable> uncaught = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    dir = Files.createTempDirectory(tmp, "provisioner-isolation-");
    vertx = Vertx.vertx();
    vertx.exceptionHandler(uncaught::add);
    driver = new ProvisioningDriver(vertx, dir.resolve("csi.sock"), DRIVER);
    DriverRegistry registry = new DriverRegistry();
    registry.put(new RegisteredDriver(DRIVER, "unix://" + dir.resolve("csi.sock"), dir.resolve("reg.sock"), "n", Map.of(), 0,
        List.of(), "1.0.0", System.currentTimeMillis(), true));
    CsiNodeClient csi = new GrpcCsiNodeClient(vertx, Duration.ofSeconds(10), new PrometheusRegistry());
    context = vertx.getOrCreateContext();
    DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
    OperationExecutor executor = new OperationExecutor(MAX_PARALLEL, Duration.ofMillis(50), Duration.ofMillis(400), System::currentTimeMillis);
    // As the volume manager's pipeline: the binding, then the desired state, again whenever the provisioner asks.
    bind = () -> {
      ClaimBinding b = provisioner.bind(sources.get());
      desired.set(populator.build(b.objects(), b.errors(), b.retrying()));
    };
    provisioner = new Provisioner(context, dir.resolve("state"), registry, ControllerClient.of(csi), executor, System::currentTimeMillis,
        () -> context.runOnContext(v -> bind.run()));
  }

  /** The sources change: bound on the context, as the pipeline does. */
  void update(ClusterObjects objects) {
    sources.set(objects);
    context.runOnContext(v -> bind.run());
  }

  @AfterEach
  void stop() {
    context.runOnContext(v -> provisioner.close());
    vertx.close().await();
  }

  static final String GOOD = """
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: good}
      provisioner: fuzz.example.com
      ---
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: fuzz.example.com}
      spec: {attachRequired: false, volumeLifecycleModes: [Persistent, Ephemeral]}
      """;

  static String goodClaimAndPod(int i) {
    return """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: good-%1$d, namespace: default}
        spec: {storageClassName: good, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: good-%1$d, namespace: default, uid: 00000000-0000-4000-8000-%2$012d}
        spec:
          containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes: [{name: data, persistentVolumeClaim: {claimName: good-%1$d}}]
        """.formatted(i, i);
  }

  /** Templates of every kind the agent reads, named {@code bad-N}, all pointing at each other and at the good class. */
  static final String TEMPLATES = """
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata: {name: bad-claim, namespace: default}
      spec: {storageClassName: good, accessModes: [ReadWriteOnce], volumeMode: Filesystem, resources: {requests: {storage: 1Mi}}}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: bad-pod, namespace: default, uid: 11111111-0000-4000-8000-000000000000}
      spec:
        securityContext: {fsGroup: 1000}
        containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}, {name: eph, mountPath: /e}, {name: inline, mountPath: /i}], volumeDevices: [{name: dev, devicePath: /dev/x}]}]
        initContainers: [{name: i, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
        volumes:
        - {name: data, persistentVolumeClaim: {claimName: bad-claim, readOnly: false}}
        - {name: eph, ephemeral: {volumeClaimTemplate: {spec: {storageClassName: good, accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Mi}}}}}}
        - {name: inline, csi: {driver: fuzz.example.com, fsType: ext4, volumeAttributes: {a: b}, nodePublishSecretRef: {name: bad-secret}}}
        - {name: dev, persistentVolumeClaim: {claimName: bad-bound}}
      ---
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata: {name: bad-bound, namespace: default}
      spec: {volumeName: bad-pv, accessModes: [ReadWriteOnce], volumeMode: Block, resources: {requests: {storage: 1Mi}}}
      ---
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: bad-class}
      provisioner: fuzz.example.com
      reclaimPolicy: Delete
      mountOptions: [noatime]
      parameters: {kind: directory, csi.storage.k8s.io/fstype: ext4}
      ---
      apiVersion: v1
      kind: PersistentVolume
      metadata: {name: bad-pv}
      spec:
        capacity: {storage: 1Mi}
        accessModes: [ReadWriteOnce]
        claimRef: {namespace: default, name: bad-bound}
        volumeMode: Block
        mountOptions: [ro]
        csi: {driver: fuzz.example.com, volumeHandle: h, fsType: ext4, volumeAttributes: {a: b}, nodeStageSecretRef: {name: bad-secret, namespace: default}}
      ---
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: bad-driver}
      spec: {attachRequired: true, podInfoOnMount: true, volumeLifecycleModes: [Persistent, Ephemeral], fsGroupPolicy: File}
      ---
      apiVersion: v1
      kind: Secret
      metadata: {name: bad-secret, namespace: default}
      stringData: {k: v}
      """;

  static final JsonNodeFactory F = JsonNodeFactory.instance;

  /** What a careless or hostile writer puts where a value belongs. */
  static JsonNode garbage(Random r) {
    return switch (r.nextInt(16)) {
      case 0 -> F.nullNode();
      case 1 -> F.textNode("");
      case 2 -> F.textNode("12Gü");
      case 3 -> F.numberNode(new java.math.BigDecimal("1e300"));
      case 4 -> F.numberNode(-1);
      case 5 -> F.numberNode(Long.MAX_VALUE);
      case 6 -> F.arrayNode();
      case 7 -> F.arrayNode().addNull();
      case 8 -> F.objectNode();
      case 9 -> F.objectNode().putNull("x");
      case 10 -> F.textNode("../../etc");
      case 11 -> F.textNode("x".repeat(5000));
      case 12 -> F.textNode("8Ei");
      case 13 -> F.textNode("-1Gi");
      case 14 -> F.booleanNode(true);
      default -> F.textNode("a\nb");
    };
  }

  /** Replaces 1-3 random nodes of the tree (never the kind: the object must still reach the stages). */
  static JsonNode mutate(JsonNode doc, Random r) {
    JsonNode copy = doc.deepCopy();
    int n = 1 + r.nextInt(3);
    for (int i = 0; i < n; i++) {
      List<Object[]> slots = new ArrayList<>(); // {parent, field name or index}
      collect(copy, slots);
      Object[] slot = slots.get(r.nextInt(slots.size()));
      if (slot[0] instanceof ObjectNode o) {
        o.set((String) slot[1], garbage(r));
      } else {
        ((ArrayNode) slot[0]).set((Integer) slot[1], garbage(r));
      }
    }
    return copy;
  }

  private static void collect(JsonNode node, List<Object[]> slots) {
    if (node instanceof ObjectNode o) {
      o.fieldNames().forEachRemaining(f -> {
        if (!f.equals("kind") && !f.equals("apiVersion")) {
          slots.add(new Object[] {o, f});
          collect(o.get(f), slots);
        }
      });
    } else if (node instanceof ArrayNode a) {
      for (int i = 0; i < a.size(); i++) {
        slots.add(new Object[] {a, i});
        collect(a.get(i), slots);
      }
    }
  }

  /**
   * {@code count} groups of every template, renamed {@code bad-<i>-...} so that no two groups collide, each group
   * with one or two of its objects mutated: the others are sound, so the mutated one is met deep in the stages.
   */
  static String garbageDocs(Random r, int count) throws Exception {
    List<JsonNode> templates = new ArrayList<>();
    try (var it = YAML.readerFor(JsonNode.class).<JsonNode>readValues(TEMPLATES)) {
      it.forEachRemaining(templates::add);
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < count; i++) {
      int first = r.nextInt(templates.size());
      int second = r.nextInt(templates.size());
      for (int t = 0; t < templates.size(); t++) {
        String text = JSON.writeValueAsString(templates.get(t))
            .replace("bad-", "bad-" + i + "-").replace("11111111-0000-4000-8000-000000000000", "11111111-0000-4000-8000-%012d".formatted(i));
        JsonNode doc = JSON.readTree(text);
        out.append(JSON.writeValueAsString(t == first || t == second ? mutate(doc, r) : doc)).append("\n---\n");
      }
    }
    return out.toString();
  }

  @Test
  void garbageAmongGoodObjectsNeverKeepsTheGoodPodsFromTheirVolumes() throws Exception {
    for (long seed = 1; seed <= 6; seed++) {
      Random r = new Random(seed);
      List<HasMetadata> objects = new ArrayList<>();
      List<String> errors = new ArrayList<>();
      // Garbage first, so that it takes the creation slots before the good claims could.
      for (String text : List.of(garbageDocs(r, 120), GOOD)) {
        ManifestParser.Result parsed = ManifestParser.parse(Path.of("fuzz-" + seed + ".yaml"), text);
        objects.addAll(parsed.objects());
        errors.addAll(parsed.errors());
      }
      int goodFrom = (int) seed * 100;
      for (int i = goodFrom; i < goodFrom + 5; i++) {
        objects.addAll(ManifestParser.parse(Path.of("good.yaml"), goodClaimAndPod(i)).objects());
      }
      ClusterObjects all = ClusterObjects.of(objects, errors);
      update(all);
      long s = seed;
      eventually(() -> goodPodsResolved(goodFrom), () -> "seed " + s + ": " + goodPods(goodFrom) + "; uncaught: " + uncaught);
      assertEquals(List.of(), uncaught, "nothing escapes the stages");
      // The garbage reached the late stages too: some bad pods got as far as a volume, others have errors.
      long badWithVolumes = desired.get().pods().keySet().stream().filter(k -> k.contains("bad-")
          && !desired.get().pods().get(k).uniqueNames().isEmpty()).count();
      assertTrue(badWithVolumes > 0, "seed " + s + ": no garbage pod got as far as its volumes");
      eventually(() -> idle(), () -> "seed " + s + ": creations still in flight: " + provisioner.status().claims());
    }
  }

  @Test
  void claimsThatCannotMakeARequestNeverHoldACreationSlot() throws Exception {
    StringBuilder bad = new StringBuilder(GOOD);
    for (int i = 0; i < MAX_PARALLEL + 10; i++) {
      bad.append("""
          ---
          apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: null-mode-%d, namespace: default}
          spec: {storageClassName: good, accessModes: [null], resources: {requests: {storage: 1Mi}}}
          """.formatted(i));
    }
    bad.append("---\n").append(goodClaimAndPod(1));
    ManifestParser.Result parsed = ManifestParser.parse(Path.of("null-modes.yaml"), bad.toString());
    update(ClusterObjects.of(parsed.objects(), parsed.errors()));
    eventually(() -> goodPodsResolved(1, 1), () -> goodPods(1) + " " + provisioner.status().claims());
    var claims = provisioner.status().claims();
    assertEquals(MAX_PARALLEL + 10, claims.stream().filter(c -> c.state().equals("error")
        && c.lastError().contains("spec.accessModes[0] is null")).count(), "" + claims);
    // Every slot is free: a second batch of good claims, more than the slots, is provisioned too.
    List<HasMetadata> more = new ArrayList<>(parsed.objects());
    for (int i = 2; i < MAX_PARALLEL + 20; i++) {
      more.addAll(ManifestParser.parse(Path.of("good.yaml"), goodClaimAndPod(i)).objects());
    }
    update(ClusterObjects.of(more, List.of()));
    eventually(() -> goodPodsResolved(1, MAX_PARALLEL + 19), () -> "" + provisioner.status().claims());
    String pod = "default/good-1";
    assertTrue(desired.get().pods().get(pod).errors().isEmpty());
  }

  /**
   * B12 at the unit level: a release waits while the volume is in use, the explicit deletion is refused while a claim
   * is bound or a pod uses it, and a claim that comes back before the deletion takes its volume back.
   */
  @Test
  void releasedVolumesWaitForTheirPodsAndExplicitDeletionsAreRefusedWhileUsed() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean used = new java.util.concurrent.atomic.AtomicBoolean(true);
    context.runOnContext(v -> provisioner.inUse(pv -> used.get()));
    List<HasMetadata> withClaim = new ArrayList<>(ManifestParser.parse(Path.of("good.yaml"), GOOD + "---\n" + goodClaimAndPod(1)).objects());
    update(ClusterObjects.of(withClaim, List.of()));
    eventually(() -> goodPodsResolved(1, 1), () -> "" + provisioner.status());
    String pv = provisioner.status().volumes().get(0).name();
    assertEquals("Bound", provisioner.status().volumes().get(0).phase());
    assertTrue(refusal(pv).contains("is bound to claim default/good-1"), refusal(pv));

    // The claim and its pod go; a pod still has it mounted: released, recorded, not deleted.
    List<HasMetadata> without = withClaim.stream().filter(o -> !o.getMetadata().getName().equals("good-1")).toList();
    update(ClusterObjects.of(without, List.of()));
    eventually(() -> !provisioner.status().volumes().isEmpty() && provisioner.status().volumes().get(0).reason().contains("once no pod uses it"),
        () -> "" + provisioner.status());
    assertTrue(refusal(pv).contains("is in use"), refusal(pv));
    assertEquals(List.of(), driver.deletes);

    // The claim comes back before the deletion: bound again, nothing deleted.
    update(ClusterObjects.of(withClaim, List.of()));
    eventually(() -> provisioner.status().volumes().get(0).phase().equals("Bound"), () -> "" + provisioner.status());
    assertEquals(List.of(), driver.deletes);

    // It goes again and the pod lets go: deleted.
    update(ClusterObjects.of(without, List.of()));
    eventually(() -> provisioner.status().volumes().get(0).phase().equals("Released"), () -> "" + provisioner.status());
    used.set(false);
    eventually(() -> provisioner.status().volumes().isEmpty() && driver.deletes.size() == 1, () -> "" + provisioner.status());
    assertTrue(refusal(pv).contains("no PersistentVolume " + pv), refusal(pv));
  }

  private String refusal(String pv) {
    var done = new java.util.concurrent.CompletableFuture<String>();
    context.runOnContext(v -> provisioner.delete(pv).onComplete(ar -> done.complete(ar.succeeded() ? "deleted"
        : ((Provisioner.DeleteRefused) ar.cause()).reason() + ": " + ar.cause().getMessage())));
    return done.orTimeout(10, TimeUnit.SECONDS).join();
  }

  private boolean idle() {
    var done = new java.util.concurrent.CompletableFuture<Boolean>();
    context.runOnContext(v -> done.complete(provisioner.idle()));
    return done.orTimeout(10, TimeUnit.SECONDS).join();
  }

  private boolean goodPodsResolved(int from) {
    return goodPodsResolved(from, 5);
  }

  /** Each good pod has its one volume in the desired state, no error and nothing to wait for. */
  private boolean goodPodsResolved(int from, int count) {
    DesiredStateOfWorld d = desired.get();
    for (int i = from; i < from + count; i++) {
      var p = d.pods().get("default/good-" + i);
      if (p == null || !p.errors().isEmpty() || !p.waiting().isEmpty() || p.uniqueNames().size() != 1) {
        return false;
      }
    }
    return true;
  }

  private String goodPods(int from) {
    List<String> out = new ArrayList<>();
    for (int i = from; i < from + 5; i++) {
      out.add(String.valueOf(desired.get().pods().get("default/good-" + i)));
    }
    return out.toString();
  }

  static void eventually(BooleanSupplier condition, Supplier<String> describe) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not reached in 30 s: " + describe.get());
      }
      Thread.sleep(10);
    }
  }
}
