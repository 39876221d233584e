package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.cli.Main;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.PrivateMountNamespace;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The agent as a real process, killed with SIGKILL and started again: the journal and reconstruction at work. */
class AgentRestartTest {
  static final int PODS = 12;
  Path root;
  Path manifests;
  int metricsPort;
  Process agent;

  @BeforeEach
  void setUp() throws Exception {
    PrivateMountNamespace.require();
    root = Files.createTempDirectory("cna-test-");
    manifests = Files.createDirectories(root.resolve("manifests"));
    try (ServerSocket s = new ServerSocket(0)) {
      metricsPort = s.getLocalPort();
    }
    StringBuilder y = new StringBuilder("""
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: hostpath.csinode.dev}
        spec: {attachRequired: false, podInfoOnMount: true}
        ---
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: dir}
        provisioner: hostpath.csinode.dev
        parameters: {kind: directory}
        """);
    for (int i = 0; i < PODS; i++) {
      y.append("""
          ---
          apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: claim-%1$d, namespace: default}
          spec: {storageClassName: dir, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
          ---
          apiVersion: v1
          kind: Pod
          metadata: {name: pod-%1$d, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
            volumes: [{name: data, persistentVolumeClaim: {claimName: claim-%1$d}}]
          """.formatted(i));
    }
    Files.writeString(manifests.resolve("pods.yaml"), y.toString());
  }

  @AfterEach
  void tearDown() throws Exception {
    if (agent != null && agent.isAlive()) {
      agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    var left = MountTable.read().under(root);
    for (int i = left.size() - 1; i >= 0; i--) {
      new Mounter().unmountAll(Path.of(left.get(i).mountPoint()));
    }
    TestDirectories.remove(root);
  }

  Process start(boolean drain) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "run", "--root-dir", root.toString(), "--node-name", "n1",
        "--with-hostpath-driver", "--pod-manifests", manifests.toString(), "--metrics-address", "127.0.0.1:" + metricsPort));
    if (drain) {
      cmd.add("--drain-on-exit");
    }
    return new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(root.resolve("agent.log").toFile())).start();
  }

  Path target(int i) {
    String uid = UUID.nameUUIDFromBytes(("static-pod/default/pod-" + i).getBytes(StandardCharsets.UTF_8)).toString();
    String pv = "pvc-" + UUID.nameUUIDFromBytes(("claim/default/claim-" + i).getBytes(StandardCharsets.UTF_8));
    return root.resolve("pods").resolve(uid).resolve("volumes/kubernetes.io~csi").resolve(pv).resolve("mount");
  }

  long mountsAt(Path p) {
    return MountTable.read().all().stream().filter(m -> m.mountPoint().equals(p.toString())).count();
  }

  String metrics() {
    try {
      return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString()).body();
    } catch (Exception e) {
      return "";
    }
  }

  boolean allPublished() {
    for (int i = 0; i < PODS; i++) {
      if (mountsAt(target(i)) == 0) {
        return false;
      }
    }
    return true;
  }

  void eventually(BooleanSupplier c, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (!c.getAsBoolean()) {
      assertTrue(agent.isAlive(), "agent died; log:\n" + Files.readString(root.resolve("agent.log")));
      if (System.nanoTime() > deadline) {
        fail("not reached in 90 s: " + what + "; log:\n" + Files.readString(root.resolve("agent.log")));
      }
      Thread.sleep(10);
    }
  }

  static long count(String metrics, String method) {
    return metrics.lines().filter(l -> l.startsWith("csi_operations_seconds_count{") && l.contains("method_name=\"" + method + "\""))
        .mapToLong(l -> (long) Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  @Test
  void sigkillMidBatchAndWhenSettledConvergesWithoutDuplicatesOrRedundantCalls() throws Exception {
    // 1. Killed in the middle of the batch.
    agent = start(false);
    eventually(() -> mountsAt(target(0)) + mountsAt(target(1)) + mountsAt(target(2)) > 0, "first publishes");
    agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);

    // 2. Restarted: converges, every target mounted exactly once.
    agent = start(false);
    eventually(this::allPublished, "all volumes published after the restart");
    eventually(() -> metrics().contains("volume_manager_total_volumes{plugin_name=\"kubernetes.io/csi:hostpath.csinode.dev\",state=\"actual_state_of_world\"} " + PODS + ".0"),
        "actual state complete");
    // Settled: nothing uncertain and nothing in flight (an operation completes only once its outcome is journaled).
    // Mounts alone are no sign of it: those of the killed run are still there.
    eventually(() -> {
      String m = metrics();
      return m.contains("csi_node_agent_uncertain_volumes 0.0") && m.contains("csi_node_agent_operations_in_flight 0.0");
    }, "settled");
    for (int i = 0; i < PODS; i++) {
      assertEquals(1, mountsAt(target(i)), "exactly one mount at " + target(i));
      Files.writeString(target(i).resolve("data.txt"), "pod " + i);
    }
    int stagingMounts = MountTable.read().under(root.resolve("plugins/kubernetes.io/csi")).size();
    assertEquals(PODS, stagingMounts, "one staging mount per volume");

    // 3. Killed when settled and restarted: nothing is staged or published again; data intact.
    agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    agent = start(true);
    eventually(() -> metrics().contains("reconstruct_volume_operations_total " + PODS + ".0"), "reconstruction counted");
    // Settled with the desired state, in one scrape: the first pass that has the desired state starts whatever the
    // journal does not show as done (a publish whose success went unrecorded comes back uncertain), so nothing
    // uncertain and nothing in flight with the pods desired means every repeated call has been made and counted.
    eventually(() -> {
      String now = metrics();
      return now.contains("volume_manager_total_volumes{plugin_name=\"kubernetes.io/csi:hostpath.csinode.dev\",state=\"desired_state_of_world\"} "
          + PODS + ".0") && now.contains("csi_node_agent_uncertain_volumes 0.0") && now.contains("csi_node_agent_operations_in_flight 0.0");
    }, "desired state populated and settled");
    String m = metrics();
    assertEquals(0, count(m, "/csi.v1.Node/NodeStageVolume"), "no redundant NodeStageVolume:\n" + m);
    assertEquals(0, count(m, "/csi.v1.Node/NodePublishVolume"), "no redundant NodePublishVolume:\n" + m);
    for (int i = 0; i < PODS; i++) {
      assertEquals(1, mountsAt(target(i)));
      assertEquals("pod " + i, Files.readString(target(i).resolve("data.txt")));
    }

    // 4. SIGTERM with --drain-on-exit leaves nothing mounted.
    agent.destroy();
    assertTrue(agent.waitFor(120, TimeUnit.SECONDS));
    assertTrue(MountTable.read().under(root).isEmpty(), "drained: " + MountTable.read().under(root));
  }
}
