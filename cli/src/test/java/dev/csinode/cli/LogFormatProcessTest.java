package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent's log as systemd's journal and log shippers get it, at debug level, through a whole publish that carries
 * a secret: under JOURNAL_STREAM every line is {@code <N>logger - message} with the level's syslog priority and no
 * time; with {@code --log-format json} every line is a JSON object; neither ever holds the secret's value. Real bind
 * mounts of the bundled driver: private mount namespace; --drain-on-exit leaves nothing mounted.
 */
class LogFormatProcessTest {
  private static final String SECRET = "s3cr3t-VALUE-48151623";
  @TempDir Path dir;

  @AfterEach
  void unmountLeftovers() throws Exception {
    var left = MountTable.read().under(dir);
    for (int i = left.size() - 1; i >= 0; i--) {
      new Mounter().unmountAll(Path.of(left.get(i).mountPoint()));
    }
  }

  @Test
  void journalLinesCarryPrioritiesAndNoTimeNorSecret() throws Exception {
    List<String> lines = runPodThroughAgent("journal", List.of(), true);
    assertFalse(lines.isEmpty());
    for (String line : lines) {
      assertTrue(line.matches("<[3467]>[A-Za-z0-9$]+ - .*"), "a journald line: " + line);
    }
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("<7>")), "debug lines are <7>");
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("<6>")), "info lines are <6>");
  }

  @Test
  void jsonLinesAreObjectsWithoutTheSecret() throws Exception {
    List<String> lines = runPodThroughAgent("json", List.of("--log-format", "json"), false);
    ObjectMapper json = new ObjectMapper();
    boolean debug = false;
    for (String line : lines) {
      JsonNode o = json.readTree(line);
      assertTrue(o.hasNonNull("level") && o.hasNonNull("loggerName") && o.hasNonNull("formattedMessage") && o.hasNonNull("timestamp"),
          "a JSON log object: " + line);
      debug |= o.get("level").asText().equals("DEBUG");
    }
    assertTrue(debug, "the config's debug level applies");
  }

  /** Runs the agent until a pod whose volume needs a secret is ready, stops it (draining); its stderr's lines. */
  private List<String> runPodThroughAgent(String name, List<String> extra, boolean journal) throws Exception {
    PrivateMountNamespace.require();
    Path manifests = Files.createDirectories(dir.resolve(name + "-manifests"));
    Files.writeString(manifests.resolve("objects.yaml"), """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: hostpath.csinode.dev}
        spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Ephemeral]}
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds, namespace: default}
        stringData: {password: %s}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: default}
        spec:
          containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes:
          - name: data
            csi: {driver: hostpath.csinode.dev, nodePublishSecretRef: {name: creds}}
        """.formatted(SECRET));
    Path config = dir.resolve(name + "-config.yaml");
    Files.writeString(config, "log-levels:\n  dev.csinode: debug\n");
    Path root = dir.resolve(name + "-root");
    Path log = dir.resolve(name + ".log");
    Files.createFile(log);
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString(), "--root-dir",
        root.toString(), "--node-name", "n1", "--with-hostpath-driver", "--pod-manifests", manifests.toString(),
        "--metrics-address", "", "--drain-on-exit"));
    cmd.addAll(extra);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
    Map<String, String> env = pb.environment();
    env.remove("JOURNAL_STREAM");
    env.remove("NOTIFY_SOCKET");
    if (journal) {
      // What systemd sets: the device and inode of the stream it gave the service as stderr.
      env.put("JOURNAL_STREAM", Files.getAttribute(log, "unix:dev") + ":" + Files.getAttribute(log, "unix:ino"));
    }
    Process agent = pb.start();
    try {
      Path api = root.resolve("csi-node-agent.sock");
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!Files.exists(api) && agent.isAlive() && System.nanoTime() < end) {
        Thread.sleep(20); // the API socket appears once the agent serves; pod wait needs it
      }
      assertTrue(Files.exists(api), () -> "the agent serves its API; log:\n" + read(log));
      Process wait = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
          System.getProperty("java.class.path"), Main.class.getName(), "pod", "wait", "default/p", "--root-dir", root.toString(),
          "--timeout", "90s").redirectErrorStream(true).redirectOutput(dir.resolve(name + "-wait.out").toFile()).start();
      assertTrue(wait.waitFor(120, TimeUnit.SECONDS), "pod wait ended");
      assertEquals(0, wait.exitValue(), () -> "the pod got ready: " + read(dir.resolve(name + "-wait.out")) + "\nlog:\n" + read(log));
      agent.destroy();
      assertTrue(agent.waitFor(60, TimeUnit.SECONDS), "the agent stopped");
    } finally {
      agent.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
    }
    String text = Files.readString(log);
    assertFalse(text.contains(SECRET), "the secret's value is never logged:\n" + text);
    assertTrue(MountTable.read().under(root).isEmpty(), "the drain left nothing mounted");
    return text.lines().filter(l -> !l.isBlank()).toList();
  }

  private static String read(Path p) {
    try {
      return Files.readString(p);
    } catch (Exception e) {
      return "(unreadable: " + e + ")";
    }
  }
}
