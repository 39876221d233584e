package dev.csinode.simulator.driver.memory;

import static dev.csinode.simulator.driver.memory.MemoryDriverFixture.await;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.plugins.PluginManager;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent library's whole volume manager on the in-memory driver and simulated mounts, as the simulator's
 * node-scale mode runs it: registration through a registrar, a claim the agent provisions, stage and publish on the
 * kubelet's paths, teardown. Needs no root and makes no mount(2); run it as a normal user to see that.
 */
class AgentOnInMemoryDriverTest {
  static final String UID = "0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b";
  @TempDir
  Path dir;
  Path root;
  Path manifests;
  final SimulatedMounts mounts = new SimulatedMounts();
  final InMemoryDriver driver = new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts);
  final Vertx vertx = Vertx.vertx();
  Agent agent;

  @BeforeEach
  void start() throws Exception {
    root = Files.createDirectories(dir.resolve("kubelet")).toRealPath();
    manifests = Files.createDirectories(dir.resolve("manifests"));
    write("00-driver.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: memory.csinode.dev}
        spec: {attachRequired: false, volumeLifecycleModes: [Persistent, Ephemeral]}
        ---
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: memory}
        provisioner: memory.csinode.dev
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data, namespace: default}
        spec: {storageClassName: memory, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
        """);
    VolumeManager.Options fast = new VolumeManager.Options(16, Duration.ofMillis(100), Duration.ofSeconds(2), Duration.ofMillis(200),
        Duration.ofSeconds(30), Duration.ofSeconds(30), true);
    agent = new Agent(vertx, new Agent.Config(root, "node-sim", null, driver, PluginManager.Options.defaults(), manifests, fast, null, false)
        .withHost(new VolumeManager.Host(mounts, () -> "boot-1")));
    await(agent.start());
  }

  @AfterEach
  void stop() {
    try {
      await(agent.stop());
    } finally {
      await(vertx.close());
    }
  }

  void write(String name, String yaml) throws Exception {
    Path tmp = manifests.resolve("." + name + ".tmp");
    Files.writeString(tmp, yaml);
    Files.move(tmp, manifests.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
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

  boolean ready(String pod) {
    return agent.volumeManager().pods().stream().filter(p -> p.pod().equals(pod)).anyMatch(PodStatus::ready);
  }

  @Test
  void aPodsProvisionedClaimIsStagedAndPublishedWithoutRoot() throws Exception {
    write("10-pod.yaml", """
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: default, uid: %s}
        spec:
          containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
        """.formatted(UID));
    eventually(() -> ready("default/app"), () -> agent.volumeManager().pods().toString());

    List<MemoryVolume> volumes = driver.state().volumes();
    assertEquals(1, volumes.size(), volumes.toString());
    String id = volumes.get(0).id();
    Map<String, MemoryState.Published> published = driver.state().publishedTargets();
    assertEquals(1, published.size(), published.toString());
    Path target = Path.of(published.keySet().iterator().next());
    Path staging = Path.of(driver.state().stagedVolumes().get(id).path());
    assertTrue(target.startsWith(root.resolve("pods").resolve(UID).resolve("volumes/kubernetes.io~csi")) && target.endsWith("mount"),
        target.toString());
    assertTrue(staging.startsWith(root.resolve("plugins/kubernetes.io/csi/memory.csinode.dev")) && staging.endsWith("globalmount"),
        staging.toString());
    assertEquals(Set.of(staging, target), Set.copyOf(mounts.beneath(root)));
    assertTrue(Files.isDirectory(target), "the driver made the target directory");

    Files.delete(manifests.resolve("10-pod.yaml"));
    eventually(() -> mounts.beneath(root).isEmpty() && driver.state().stagedVolumes().isEmpty(),
        () -> mounts.beneath(root) + " " + driver.state().stagedVolumes());
    assertEquals(Map.of(), driver.state().publishedTargets());
    eventually(() -> !Files.exists(target.getParent()), () -> target.getParent() + " is left");
    assertEquals(1, driver.state().volumes().size(), "the claim's volume is kept");
  }
}
