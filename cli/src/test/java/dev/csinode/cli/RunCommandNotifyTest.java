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

  /**
   * SIGHUP re-reads the config file: RELOADING=1 (with MONOTONIC_USEC) then READY=1; what can change at run time is
   * applied and logged, a restart-only key is named as such, a flag on the command line still wins, and an invalid
   * file changes nothing.
   */
  @Test
  void sighupReloadsTheConfigFile() throws Exception {
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, "node-name: n1\nbackoff-max: 30s\nresync-period: 10s\nmetrics-address: \"\"\n");
    try (NotifyListener systemd = NotifyListener.atPath(dir.resolve("notify"))) {
      ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString(), "--root-dir",
          dir.resolve("root").toString(), "--probe-interval", "7s")
          .redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile());
      pb.environment().put("NOTIFY_SOCKET", systemd.address);
      Process agent = pb.start();
      try {
        systemd.until(d -> d.startsWith("READY=1"), WAIT);
        Files.writeString(config, "node-name: n2\nbackoff-max: 1m\nresync-period: 10s\nprobe-interval: 3s\n"
            + "metrics-address: \"\"\nlog-levels:\n  dev.csinode.agent: debug\n");
        hup(agent);
        List<String> reload = systemd.until(d -> d.startsWith("READY=1"), WAIT);
        assertTrue(reload.get(0).matches("RELOADING=1\nMONOTONIC_USEC=\\d+\nSTATUS=reloading the configuration"), reload::toString);
        String log = waitForLog("reload of " + config);
        assertTrue(log.contains("reload of " + config + ": changed backoff-max 30s -> 1m0s, log level of dev.csinode.agent "
            + "(default) -> debug"), log);
        assertTrue(log.contains("reload: node-name changed in " + config + " (n1 -> n2): it takes effect at the next restart"), log);
        assertTrue(log.contains("reload: probe-interval in " + config + " is ignored: the command line gives 7s and wins"), log);

        Files.writeString(config, "node-name: n2\nbackoff-max: soon\n");
        hup(agent);
        systemd.until(d -> d.startsWith("READY=1"), WAIT);
        assertTrue(waitForLog("nothing changed").contains("reload: " + config + ":2: backoff-max: \"soon\" is not a duration"), this::log);
        assertTrue(agent.isAlive(), "an invalid file on reload does not stop the agent");
      } finally {
        agent.destroy();
        agent.waitFor(60, TimeUnit.SECONDS);
        agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
      }
    }
  }

  private static void hup(Process p) throws Exception {
    assertEquals(0, new ProcessBuilder("kill", "-HUP", Long.toString(p.pid())).start().waitFor());
  }

  /** The log once it holds the text (the reload logs after it sent READY=1's datagram may be read). */
  private String waitForLog(String text) throws Exception {
    long end = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < end) {
      String log = log();
      if (log.contains(text)) {
        return log;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the log never said \"" + text + "\":\n" + log());
  }

  private String log() {
    try {
      return Files.readString(dir.resolve("agent.log"));
    } catch (Exception e) {
      return "(no log: " + e + ")";
    }
  }
}
