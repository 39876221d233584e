package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.simulator.scenario.ShippedScenarios;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** simulate's usage errors (exit 2, nothing run), --list, and --driver-command's words. */
@Tag("unit")
class SimulateCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String... args) {
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    String[] all = new String[args.length + 1];
    all[0] = "simulate";
    System.arraycopy(args, 0, all, 1, args.length);
    return cli.execute(all);
  }

  @Test
  void listPrintsTheShippedScenariosWithTheirDescriptions() {
    assertEquals(0, run("--list"));
    assertTrue(out.toString().lines().anyMatch(l -> l.startsWith("pvc-lifecycle ") && l.contains("A provisioned claim")), out.toString());
    assertTrue(out.toString().contains("node-scale "), out.toString());
  }

  @Test
  void usageErrorsExitTwo() throws IOException {
    assertEquals(2, run());
    assertTrue(err.toString().contains("which scenario?"), err.toString());
    assertEquals(2, run("--scenario", "no-such-scenario"));
    assertTrue(err.toString().contains("no scenario file no-such-scenario and no shipped scenario of that name; shipped: "
        + String.join(", ", ShippedScenarios.names())), err.toString());
    assertEquals(2, run("--scenario", "churn", "--driver-endpoint", "unix:///tmp/a.sock", "--driver-command", "driver {endpoint}"));
    assertTrue(err.toString().contains("exclude each other"), err.toString());
    assertEquals(2, run("--scenario", "churn", "--in-memory-driver", "--driver-registration-dir", dir.toString()));
    assertEquals(2, run("--scenario", "churn", "--no-such-flag"));
    assertEquals(2, run("--list", "--scenario", "churn"));
    Path bad = Files.writeString(dir.resolve("bad.yaml"), "name: bad\ndescription: d\nsteps:\n- wait-ready: {pod: default/a, timout: 1s}\n");
    assertEquals(2, run("--scenario", bad.toString()));
    assertTrue(err.toString().contains(bad + ":4:") && err.toString().contains("unknown key \"timout\""), err.toString());
    assertEquals(2, run("--scenario", dir.resolve("missing.yaml").toString()));
    assertTrue(err.toString().contains("no such scenario file"), err.toString());
  }

  @Test
  void driverCommandIsSplitAsAShellWouldWithoutOne() {
    assertEquals(List.of("my-driver", "--endpoint={endpoint}", "--name", "a b", "it's", "$HOME", "x\"y"),
        SimulateCommand.words("  my-driver --endpoint={endpoint}\t--name 'a b' it\\'s \"\\$HOME\" \"x\\\"y\" "));
    assertEquals(List.of("a", "bc"), SimulateCommand.words("a b'c'"));
    assertEquals(List.of(""), SimulateCommand.words("''"));
    assertThrows(IllegalArgumentException.class, () -> SimulateCommand.words("driver 'unclosed"));
    assertThrows(IllegalArgumentException.class, () -> SimulateCommand.words("driver \"unclosed"));
  }
}
