package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import dev.csinode.simulator.scenario.ShippedScenarios;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** check-driver's usage errors and a driver it cannot reach: exit 2, a message that says what to do, nothing run. */
@Tag("unit")
class CheckDriverCommandTest {
  @TempDir Path dir;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  int run(String... args) {
    CommandLine cli = Main.commandLine();
    cli.setOut(new PrintWriter(out));
    cli.setErr(new PrintWriter(err));
    String[] all = new String[args.length + 1];
    all[0] = "check-driver";
    System.arraycopy(args, 0, all, 1, args.length);
    return cli.execute(all);
  }

  @Test
  void usageErrorsExitTwo() {
    assertEquals(2, run());
    assertTrue(err.toString().contains("check-driver: which driver? give --driver-command 'CMD ARGS...' or --driver-endpoint"), err.toString());
    assertEquals(2, run("--driver-endpoint", "unix:///tmp/a.sock", "--driver-command", "driver {endpoint}"));
    assertTrue(err.toString().contains("--driver-command and --driver-endpoint exclude each other"), err.toString());
    assertEquals(2, run("--driver-command", "driver {endpoint}", "--suite", "scale"));
    assertTrue(err.toString().contains("--suite: 'scale' is not basic or full"), err.toString());
    assertEquals(2, run("--driver-command", "  "));
    assertTrue(err.toString().contains("--driver-command is empty"), err.toString());
    assertEquals(2, run("--driver-endpoint", "tcp://localhost:1"));
    assertTrue(err.toString().contains("not a UNIX socket"), err.toString());
    assertEquals(2, run("--driver-command", "driver {endpoint}", "--no-such-flag"));
    assertEquals("", out.toString(), "nothing printed on stdout for a usage error");
  }

  @Test
  void anUnknownScenarioNameIsRefusedNamingTheShippedOnesBeforeAnyDriverStarts() {
    Path marker = dir.resolve("started");
    assertEquals(2, run("--driver-command", "touch " + marker, "--scenario", "no-such-scenario", "--root-dir", dir.resolve("w").toString()));
    assertTrue(err.toString().contains("check-driver: no shipped scenario named \"no-such-scenario\"; shipped: "
        + String.join(", ", ShippedScenarios.names()) + "\n"), err.toString());
    assertTrue(Files.notExists(marker), "the driver command never ran");
  }

  @Test
  void anEndpointNobodyServesExitsTwoSayingSo() {
    Path socket = dir.resolve("csi.sock");
    assertEquals(2, run("--driver-endpoint", "unix://" + socket, "--list"));
    assertTrue(err.toString().contains("check-driver: no socket at " + socket + ": start the driver first (or give it as --driver-command)"),
        err.toString());
    assertEquals("", out.toString());
  }

  @Test
  void helpSaysWhatItDoesAndTheExitStatuses() {
    assertEquals(0, run("--help"));
    String help = out.toString().replaceAll("\\s+", " ");
    assertTrue(help.contains("pass/fail/skip matrix"), help);
    assertTrue(help.contains("0 every scenario run passed (skips allowed), 1 a check failed, 2 a usage error"), help);
  }
}
