package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * simulate's exit statuses from runs: 0 when every check holds, 1 when an assertion fails, 2 when a step cannot be
 * carried out; with the in-memory driver, so as any user. The reports asked for are written.
 */
class SimulateCommandRunTest {
  private static final String SCENARIO = """
      name: one-pod
      description: one pod with an inline volume
      driver: {inMemory: {}}
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
      - wait-ready: {pod: default/a, timeout: 30s}
      """;

  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int simulate(String scenario, String... more) throws IOException {
    Path file = Files.writeString(dir.resolve("scenario.yaml"), scenario);
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    String[] args = new String[5 + more.length];
    args[0] = "simulate";
    args[1] = "--scenario";
    args[2] = file.toString();
    args[3] = "--root-dir";
    args[4] = dir.resolve("w").toString();
    System.arraycopy(more, 0, args, 5, more.length);
    return cli.execute(args);
  }

  @Test
  void everyCheckHoldingExitsZeroAndWritesTheReports() throws IOException {
    Path junit = dir.resolve("junit.xml");
    Path trace = dir.resolve("trace.jsonl");
    assertEquals(0, simulate(SCENARIO + "- assert: {calls: {method: NodePublishVolume, code: OK, count: 1}}\n",
        "--junit", junit.toString(), "--trace", trace.toString()), out + "\n" + err);
    assertTrue(out.toString().contains("one-pod"), out.toString());
    assertTrue(Files.readString(junit).contains("one-pod"));
    assertTrue(Files.readString(trace).contains("NodePublishVolume"));
  }

  @Test
  void aFailedAssertionExitsOne() throws IOException {
    assertEquals(1, simulate(SCENARIO + "- assert: {calls: {method: NodePublishVolume, code: OK, count: 5}}\n"), out + "\n" + err);
    assertTrue(out.toString().contains("1 matching call(s)"), out.toString());
  }

  @Test
  void aStepThatCannotBeCarriedOutExitsTwo() throws IOException {
    assertEquals(2, simulate(SCENARIO + "- write-data: {pod: default/a, volume: scratch, file: f, size: 1Ki}\n"), out + "\n" + err);
    assertTrue(out.toString().contains("write-data needs real mounts"), out.toString());
  }

  @Test
  void aSecondRunInTheSameRootDirIsRefusedNamingTheDirectory() throws IOException {
    assertEquals(0, simulate(SCENARIO), out + "\n" + err);
    out.getBuffer().setLength(0);
    long start = System.nanoTime();
    assertEquals(2, simulate(SCENARIO), out + "\n" + err);
    assertTrue(out.toString().contains(dir.resolve("w").resolve("1") + " is not empty"), out.toString());
    assertTrue(System.nanoTime() - start < 20_000_000_000L, "refused at once, not after the waits time out");
  }
}
