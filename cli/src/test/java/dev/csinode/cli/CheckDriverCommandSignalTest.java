package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM to {@code check-driver} while its probe waits for the driver command to serve: the command runs in a session
 * of its own (no terminal signal reaches it), so the shutdown hook must kill it or it would outlive check-driver.
 */
class CheckDriverCommandSignalTest {
  @TempDir Path dir;

  @Test
  void sigtermDuringTheProbeLeavesNoDriverProcessBehind() throws Exception {
    String marker = "never-serves-" + UUID.randomUUID();
    String java = ProcessHandle.current().info().command().orElse("java");
    Path log = dir.resolve("out.log");
    // Never serves {endpoint}: the probe waits for it (30 s) and SIGTERM arrives meanwhile.
    List<String> cmd = List.of(java, "-cp", System.getProperty("java.class.path"), Main.class.getName(), "check-driver",
        "--list", "--root-dir", dir.resolve("w").toString(), "--driver-command", "/bin/sh -c 'sleep 600; echo " + marker + "'");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!running(marker, p.pid())) {
        assertTrue(p.isAlive(), "check-driver exited early:\n" + Files.readString(log));
        assertTrue(System.nanoTime() < deadline, "the driver command did not start:\n" + Files.readString(log));
        Thread.sleep(100); // polls the process table: no event to wait on
      }
      p.destroy(); // SIGTERM
      assertTrue(p.waitFor(60, TimeUnit.SECONDS), "check-driver did not exit on SIGTERM:\n" + Files.readString(log));
      assertFalse(running(marker, p.pid()), "the driver command outlived check-driver:\n" + Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      p.destroyForcibly();
    }
  }

  /** A process other than check-driver itself (whose arguments name the marker too) with the marker in its command line. */
  private static boolean running(String marker, long checkDriver) {
    return ProcessHandle.allProcesses().anyMatch(h -> h.pid() != checkDriver && cmdline(h.pid()).contains(marker));
  }

  private static String cmdline(long pid) {
    try {
      return Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return "";
    }
  }
}
