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
 * had it), a message naming the option, and nothing done. {@code pod wait} exited 1 and the registrar 1 with a
 * message that did not say which option.
 */
@Tag("unit")
class DurationOptionsTest {
  @TempDir Path dir;

  @Test
  void podWaitRefusesATimeoutItCannotSendWithStatusTwo() {
    Path socket = dir.resolve("api.sock"); // nothing there: a request would fail with status 1
    for (String bad : List.of("soon", "25h", "1h x")) {
      CliOutputTest.Printed p = CliOutputTest.run("pod", "wait", "default/p", "--timeout", bad, "--api-socket", socket.toString());
      assertEquals(2, p.code(), bad + ": " + p.err());
      assertTrue(p.err().startsWith("pod wait: --timeout"), p.err());
    }
  }

  @Test
  void theRegistrarNamesItsTimeout() {
    Path registry = dir.resolve("plugins_registry");
    CliOutputTest.Printed p = CliOutputTest.run("registrar", "--csi-address", dir.resolve("csi.sock").toString(),
        "--kubelet-registration-path", dir.resolve("csi.sock").toString(), "--plugin-registration-path", registry.toString(),
        "--timeout", "soon");
    assertEquals(2, p.code(), p.err());
    assertTrue(p.err().startsWith("registrar: --timeout: 'soon' is not a duration"), p.err());
    assertFalse(Files.exists(registry), "nothing was made");
  }

  @Test
  void runNamesTheDurationOptionItCannotRead() {
    for (String option : List.of("--backoff-initial", "--backoff-max", "--resync-period", "--csi-timeout",
        "--volume-stats-period", "--probe-interval")) {
      Path root = dir.resolve("root" + option);
      CliOutputTest.Printed p = CliOutputTest.run("run", "--root-dir", root.toString(), option, "soon");
      assertEquals(2, p.code(), option + ": " + p.err());
      assertTrue(p.err().startsWith("run: " + option + ": 'soon' is not a duration"), p.err());
      assertFalse(Files.exists(root), "nothing was made");
    }
  }
}
