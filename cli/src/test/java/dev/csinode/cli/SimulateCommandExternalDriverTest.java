package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.grpc.SocketFiles;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A driver reached by --driver-endpoint that mounts in a mount namespace of its own, as a driver pod does: the
 * simulator does not judge its mounts (nothing it sees says anything) and write-data refuses an unmounted target.
 */
class SimulateCommandExternalDriverTest {
  private static final String SCENARIO = """
      name: external
      description: one pod with an inline volume of a driver mounting elsewhere
      steps:
      - apply: |
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: "{{driver}}"}
          spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Ephemeral]}
          ---
          apiVersion: v1
          kind: Pod
          metadata: {name: a, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: scratch, mountPath: /scratch}]}]
            volumes: [{name: scratch, csi: {driver: "{{driver}}"}}]
      - wait-ready: {pod: default/a, timeout: 60s}
      """;

  @TempDir Path dir;
  private Process driver;

  @AfterEach
  void stopDriver() throws InterruptedException {
    if (driver != null) {
      driver.destroy();
      driver.waitFor(30, TimeUnit.SECONDS);
    }
  }

  private int simulate(String name, String scenario, Path socket, StringWriter out) throws Exception {
    Path file = Files.writeString(dir.resolve(name + ".yaml"), scenario);
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(out));
    return cli.execute("simulate", "--scenario", file.toString(), "--root-dir", dir.resolve(name).toString(),
        "--driver-endpoint", "unix://" + socket);
  }

  @Test
  void mountChecksAreOffAndWriteDataRefusesATargetThatIsNoMountPointHere() throws Exception {
    PrivateMountNamespace.require();
    Path socket = dir.resolve("ext/csi.sock");
    Path log = dir.resolve("driver.log");
    // A mount namespace of its own: its mounts are not seen here, as those of a driver in a pod.
    driver = new ProcessBuilder(List.of("unshare", "--mount", "--propagation", "private", "--",
        ProcessHandle.current().info().command().orElse("java"), "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "hostpath-driver", "--endpoint", "unix://" + socket, "--state-dir", dir.resolve("state").toString()))
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!SocketFiles.isServed(socket)) {
      assertTrue(driver.isAlive(), "driver exited: " + Files.readString(log, StandardCharsets.UTF_8));
      assertTrue(System.nanoTime() < deadline, "driver did not serve " + socket);
      Thread.onSpinWait();
    }

    StringWriter out = new StringWriter();
    assertEquals(0, simulate("ready", SCENARIO, socket, out), out.toString());
    assertTrue(out.toString().contains("off: the driver runs outside the simulator's mount namespace"), out.toString());

    StringWriter written = new StringWriter();
    assertEquals(2, simulate("write", SCENARIO + "- write-data: {pod: default/a, volume: scratch, file: f, size: 1Ki}\n", socket,
        written), written.toString());
    assertTrue(written.toString().contains("is not a mount point here"), written.toString());
  }
}
