package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** check-registration's exit statuses and its output's safety; the findings themselves: RegistrationDoctorTest. */
class CheckRegistrationCommandTest {
  @TempDir Path root;

  @Test
  void anEmptyRegistrationDirectoryIsWellAndExitsZero() throws Exception {
    Files.createDirectories(root.resolve("plugins_registry"));
    CliOutputTest.Printed p = CliOutputTest.run("check-registration", "--root-dir", root.toString());
    assertEquals(0, p.code(), p.out() + p.err());
    assertTrue(p.out().contains("no registration sockets"), p.out());
    assertTrue(p.out().endsWith("all is well\n"), p.out());
  }

  @Test
  void aStaleSocketWithAHostileNameExitsOneAndPrintsItEscaped() throws Exception {
    Path dir = Files.createDirectories(root.resolve("plugins_registry"));
    try (ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.bind(UnixDomainSocketAddress.of(dir.resolve("x\nremoved \u001b[2K\u202e-reg.sock")));
    }
    CliOutputTest.Printed p = CliOutputTest.run("check-registration", "--registration-dir", dir.toString());
    assertEquals(1, p.code(), p.out() + p.err());
    p.assertClean();
    assertTrue(p.out().contains("PROBLEM stale: nothing listens on it"), p.out());
    assertTrue(p.out().contains("next: "), p.out());
    assertTrue(p.out().endsWith("1 problem found\n"), p.out());
    assertTrue(Files.list(dir).count() == 1, "read-only: the stale socket is still there");
  }

  @Test
  void usageErrorsExitTwo() {
    assertEquals(2, CliOutputTest.run("check-registration", "--root-dir", "/a", "--registration-dir", "/b").code());
    DurationOptionsTest.assertNotADuration(CliOutputTest.run("check-registration", "--timeout", "soon", "--root-dir", root.toString()),
        "check-registration", "--timeout", "soon");
    assertEquals(2, CliOutputTest.run("check-registration", "-o", "xml", "--root-dir", root.toString()).code());
  }
}
