package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to {@code simulate} in the middle of a run with real mounts and a driver it started: nothing of the run
 * outlives it (the driver in a session of its own, the mounts, the loop device of a block volume).
 */
class SimulateCommandSignalTest {
  @TempDir Path dir;

  @Test
  void sigtermLeavesNoDriverMountOrLoopDeviceBehind() throws Exception {
    PrivateMountNamespace.require();
    String driverName = "sig" + UUID.randomUUID().toString().substring(0, 8) + ".example.com";
    String java = ProcessHandle.current().info().command().orElse("java");
    String driverCommand = java + " -cp " + System.getProperty("java.class.path") + " " + Main.class.getName()
        + " hostpath-driver --endpoint {endpoint} --state-dir state --node-id n --driver-name " + driverName;
    Path scenario = Files.writeString(dir.resolve("s.yaml"), """
        name: interrupted
        description: a block claim, then a long pause that SIGTERM interrupts
        steps:
        - apply: |
            apiVersion: storage.k8s.io/v1
            kind: CSIDriver
            metadata: {name: "{{driver}}"}
            spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Persistent]}
            ---
            apiVersion: storage.k8s.io/v1
            kind: StorageClass
            metadata: {name: simulated}
            provisioner: "{{driver}}"
            reclaimPolicy: Delete
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: raw, namespace: default}
            spec:
              storageClassName: simulated
              volumeMode: Block
              accessModes: [ReadWriteOnce]
              resources: {requests: {storage: 16Mi}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: block, namespace: default}
            spec:
              containers: [{name: app, image: busybox, volumeDevices: [{name: raw, devicePath: /dev/xvda}]}]
              volumes: [{name: raw, persistentVolumeClaim: {claimName: raw}}]
        - wait-ready: {pod: default/block, timeout: 60s}
        - pause: 10m
        """);
    Path work = dir.resolve("w");
    Path log = dir.resolve("out.log");
    List<String> cmd = new ArrayList<>(List.of(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(),
        "simulate", "--scenario", scenario.toString(), "--root-dir", work.toString(), "--driver-command", driverCommand));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!Files.readString(log, StandardCharsets.UTF_8).contains("step 3 pause")) {
        assertTrue(p.isAlive(), "simulate exited early:\n" + Files.readString(log));
        assertTrue(System.nanoTime() < deadline, "the pod did not get ready:\n" + Files.readString(log));
        Thread.sleep(100); // polls a log file: no event to wait on
      }
      assertTrue(driverRunning(driverName), "the driver runs during the pause");
      assertTrue(!loopsUnder(work).isEmpty(), "the block volume is on a loop device beneath the run: " + LoopDevices.list());
      assertTrue(!mountsUnder(work).isEmpty(), "the run mounted beneath its directory");
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "simulate did not exit on SIGTERM:\n" + Files.readString(log));
      String out = Files.readString(log, StandardCharsets.UTF_8);
      assertTrue(!driverRunning(driverName), "the driver outlived simulate:\n" + out);
      assertEquals(List.of(), mountsUnder(work), out);
      assertEquals(List.of(), loopsUnder(work), out);
    } finally {
      p.destroyForcibly();
    }
  }

  private static boolean driverRunning(String driverName) {
    return ProcessHandle.allProcesses().anyMatch(h -> h.info().arguments().map(a -> List.of(a).contains(driverName)).orElse(false)
        || cmdline(h.pid()).contains(driverName));
  }

  private static String cmdline(long pid) {
    try {
      return Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return "";
    }
  }

  private static List<String> mountsUnder(Path dir) {
    return MountTable.read().under(dir).stream().map(MountInfo::mountPoint).toList();
  }

  private static List<String> loopsUnder(Path dir) {
    try (Stream<String> lines = LoopDevices.list().stream()) {
      return lines.filter(l -> l.contains(" " + dir + "/")).toList();
    }
  }
}
