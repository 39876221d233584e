package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A duration option the command cannot read is a usage error everywhere: status 2 (as orphans and check-registration
 * had it), a message naming the option and the value, and nothing done. {@code pod wait} exited 1 and the registrar 1
 * with a message that did not say which option. Every one is read by {@link DurationOption} while picocli parses the
 * command line, so its error is picocli's, followed by the command's usage.
 */
@Tag("unit")
class DurationOptionsTest {
  @TempDir Path dir;

  /** The usage error of a duration {@code option} given as {@code shown} (as escaped): first line and status. */
  static void assertNotADuration(CliOutputTest.Printed p, String command, String option, String shown) {
    assertEquals(2, p.code(), option + " " + shown + ": " + p.err());
    assertTrue(p.err().startsWith("Invalid value for option '" + option + "': '" + shown + "' is not a duration; use e.g. "),
        p.err());
    assertTrue(p.err().contains("\nUsage: csi-node-agent " + command + " "), p.err());
  }

  @Test
  void podWaitRefusesATimeoutItCannotSendWithStatusTwo() {
    Path socket = dir.resolve("api.sock"); // nothing there: a request would fail with status 1
    for (String bad : List.of("soon", "1h x", "23h&x=1", "")) {
      CliOutputTest.Printed p = CliOutputTest.run("pod", "wait", "default/p", "--timeout", bad, "--api-socket", socket.toString());
      assertNotADuration(p, "pod wait", "--timeout", bad);
    }
    CliOutputTest.Printed p = CliOutputTest.run("pod", "wait", "default/p", "--timeout", "25h", "--api-socket", socket.toString());
    assertEquals(2, p.code(), p.err());
    assertEquals("pod wait: --timeout 25h0m0s is longer than 24h; wait less, again if need be\n", p.err());
  }

  @Test
  void aValueThatIsNoDurationIsPrintedEscaped() {
    CliOutputTest.Printed p = CliOutputTest.run("pod", "wait", "default/p", "--timeout", "1s\nremoved \u001b[2K\u202e",
        "--api-socket", dir.resolve("api.sock").toString());
    p.assertClean();
    assertNotADuration(p, "pod wait", "--timeout", "1s\\nremoved \\u001b[2K\\u202e");
  }

  @Test
  void theRegistrarNamesItsTimeout() {
    Path registry = dir.resolve("plugins_registry");
    CliOutputTest.Printed p = CliOutputTest.run("registrar", "--csi-address", dir.resolve("csi.sock").toString(),
        "--kubelet-registration-path", dir.resolve("csi.sock").toString(), "--plugin-registration-path", registry.toString(),
        "--timeout", "soon");
    assertNotADuration(p, "registrar", "--timeout", "soon");
    assertFalse(Files.exists(registry), "nothing was made");
  }

  @Test
  void runNamesTheDurationOptionItCannotRead() {
    for (String option : List.of("--backoff-initial", "--backoff-max", "--resync-period", "--csi-timeout",
        "--volume-stats-period", "--probe-interval")) {
      Path root = dir.resolve("root" + option);
      CliOutputTest.Printed p = CliOutputTest.run("run", "--root-dir", root.toString(), option, "soon");
      assertNotADuration(p, "run", option, "soon");
      assertFalse(Files.exists(root), "nothing was made");
    }
  }
}
