package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.systemd.NotifyListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code run} under a NOTIFY_SOCKET, as systemd starts a {@code Type=notify} unit: READY=1 only once the pod sources
 * have delivered (its STATUS already counts the manifest's pod), STATUS updates, STOPPING=1 on SIGTERM. No driver,
 * nothing mounted.
 */
class RunCommandNotifyTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  @TempDir Path dir;

  @Test
  void readyAfterTheSourcesDeliveredThenStopping() throws Exception {
    Path manifests = Files.createDirectories(dir.resolve("manifests"));
    Files.writeString(manifests.resolve("pod.yaml"), """
        apiVersion: v1
        kind: Pod
        metadata: {name: waits, namespace: default}
        spec:
          containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes:
          - name: data
            csi: {driver: absent.example.com}
        """);
    try (NotifyListener systemd = NotifyListener.atPath(dir.resolve("notify"))) {
      ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), Main.class.getName(), "run", "--root-dir", dir.resolve("root").toString(),
          "--node-name", "n1", "--pod-manifests", manifests.toString(), "--metrics-address", "")
          .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile());
      pb.environment().put("NOTIFY_SOCKET", systemd.address);
      pb.environment().remove("WATCHDOG_USEC");
      Process agent = pb.start();
      try {
        String first = systemd.next(WAIT);
        assertEquals("READY=1\nSTATUS=0 drivers registered; 0/1 pods ready; 0 volumes published; 1 pod with errors", first,
            () -> "the first notification is READY, sent after the manifest's pod reached the volume manager; log:\n" + log());
        agent.destroy(); // SIGTERM
        List<String> rest = systemd.until(d -> d.startsWith("STOPPING=1"), WAIT);
        assertEquals("STOPPING=1\nSTATUS=stopping", rest.get(rest.size() - 1));
        assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent exits after SIGTERM");
        // 143: the JVM ends with 128+SIGTERM when the signal's shutdown hooks finish first (the unit's SuccessExitStatus).
        assertTrue(agent.exitValue() == 0 || agent.exitValue() == 143, () -> "exit " + agent.exitValue() + "; log:\n" + log());
      } finally {
        agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  private String log() {
    try {
      return Files.readString(dir.resolve("agent.log"));
    } catch (Exception e) {
      return "(no log: " + e + ")";
    }
  }
}
