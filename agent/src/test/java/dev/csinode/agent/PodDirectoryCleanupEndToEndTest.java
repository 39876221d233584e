package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.mount.MountTable;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A pod's directory goes when the pod does, once its volumes are torn down, without waiting for a housekeeping
 * pass (the resync here is an hour away); what the agent did not make stays, and the next pass reports it.
 */
class PodDirectoryCleanupEndToEndTest extends AgentFixture {
  static final String GONE = "55555555-aaaa-4bbb-8ccc-000000000001";
  static final String RUNTIME_FILES = "55555555-aaaa-4bbb-8ccc-000000000002";

  @Override
  VolumeManager.Options options() {
    return options(Duration.ofHours(1), Duration.ofMinutes(1), true);
  }

  @Test
  void theDirectoryOfAPodGoesWithItsLastVolume() throws Exception {
    write("gone.yaml", """
        apiVersion: v1
        kind: Pod
        metadata: {name: gone, namespace: default, uid: %s}
        spec:
          containers:
          - name: app
            image: busybox
            volumeMounts: [{name: a, mountPath: /a}, {name: b, mountPath: /b}]
          volumes:
          - {name: a, csi: {driver: hostpath.csinode.dev}}
          - {name: b, csi: {driver: hostpath.csinode.dev}}
        """.formatted(GONE));
    eventually(() -> ready("default/gone"), () -> "" + pod("default/gone"));
    Path dir = root.resolve("pods").resolve(GONE);
    assertTrue(Files.isDirectory(dir.resolve("volumes/kubernetes.io~csi/a/mount")), () -> listing(dir) + " " + pod("default/gone"));
    assertTrue(Files.isDirectory(dir.resolve("volumes/kubernetes.io~csi/b/mount")), () -> listing(dir));
    Files.delete(manifests.resolve("gone.yaml"));
    eventually(() -> !Files.exists(dir), () -> "pod directory still there: " + listing(dir));
    assertTrue(MountTable.read().under(root.resolve("pods")).isEmpty());
    assertTrue(agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
  }

  @Test
  void whatTheAgentDidNotMakeStaysAndIsReported() throws Exception {
    inlinePodReady("runtime", RUNTIME_FILES);
    Path dir = root.resolve("pods").resolve(RUNTIME_FILES);
    Path runtimeFile = Files.writeString(dir.resolve("etc-hosts"), "127.0.0.1 localhost\n"); // as a runtime would
    Files.delete(manifests.resolve("runtime.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty() && !Files.exists(dir.resolve("volumes/kubernetes.io~csi/data")),
        () -> "" + agent.volumeManager().volumes());
    // A dry-run pass runs after the removal the teardown started: by then that removal is over.
    List<Orphan> report = Await.result(agent.volumeManager().reconciler().housekeep(false));
    assertEquals("127.0.0.1 localhost\n", Files.readString(runtimeFile), "a file the agent did not make is never removed");
    Orphan kept = report.stream().filter(o -> o.podUid().equals(RUNTIME_FILES)).findFirst().orElseThrow(() -> new AssertionError("" + report));
    assertEquals(HousekeepingAction.KEEP, kept.action());
    assertTrue(kept.reason().contains("etc-hosts"), kept.reason());
  }

  private static String listing(Path dir) {
    try (var walk = Files.walk(dir)) {
      return walk.map(Path::toString).toList().toString();
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
