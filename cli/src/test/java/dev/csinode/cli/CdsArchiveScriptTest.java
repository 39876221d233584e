package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * scripts/cds-archive.sh with a stand-in for java (the real training takes ~15 s and needs the packaged jar, which
 * does not exist yet when the tests run): what it leaves behind, the daemon it starts and stops, torn class lists, and
 * a failed dump.
 */
class CdsArchiveScriptTest {
  private static final Path SCRIPT = Path.of("").toAbsolutePath().getParent().resolve("scripts/cds-archive.sh");

  /**
   * Writes what a JVM would: a class list (the daemon's ends in a torn line, as when it is killed while writing), an
   * archive (a copy of the list it was given, to look at), and as the daemon a socket, serving until TERM. With
   * NUMBERED set, each class line ends in an id unique to the run, as JDK 25 writes them.
   */
  private static final String JAVA = """
      #!/bin/bash
      list=; arch=; from=; root=; prev=; id=
      [[ -n "${NUMBERED:-}" ]] && id=" id: $$"
      for a in "$@"; do
        case "$a" in
          -XX:DumpLoadedClassList=*) list=${a#*=} ;;
          -XX:SharedArchiveFile=*) arch=${a#*=} ;;
          -XX:SharedClassListFile=*) from=${a#*=} ;;
        esac
        [[ "$prev" == --root-dir ]] && root=$a
        prev=$a
      done
      if [[ " $* " == *" run "* ]]; then
        echo "$list" >"$FAKE_DIR/work"
        printf 'dev/csinode/agent/Agent%s\\ndev/csinode/agent/Tor' "$id" >"$list"
        echo $$ >"$FAKE_DIR/agent.pid"
        exec python3 -c 'import signal, socket, sys, time
      signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
      s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen()
      time.sleep(600)' "$root/csi-node-agent.sock"
      fi
      [[ -n "$list" ]] && printf 'dev/csinode/cli/Main%s\\n' "$id" >>"$list"
      if [[ -n "$arch" ]]; then
        [[ "$from" == */run.list && -n "${FAIL_RUN_DUMP:-}" ]] && { echo "dump broke" >&2; exit 1; }
        cp "$from" "$arch"
      fi
      exit 0
      """;

  @TempDir Path dir;
  Path bin;
  Path tmp;

  @BeforeEach
  void fakeJava() throws IOException {
    bin = Files.createDirectories(dir.resolve("bin"));
    tmp = Files.createDirectories(dir.resolve("tmp"));
    Path java = Files.writeString(bin.resolve("java"), JAVA);
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.writeString(dir.resolve("x.jar"), "a jar");
  }

  private record Result(int code, String output) {}

  private Result run(boolean failRunDump) throws Exception {
    return run(failRunDump, false);
  }

  private Result run(boolean failRunDump, boolean numbered) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), dir.resolve("x.jar").toString(),
        dir.resolve("x.jar.jvmK").toString()).redirectErrorStream(true);
    pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
    pb.environment().put("TMPDIR", tmp.toString());
    pb.environment().put("FAKE_DIR", dir.toString());
    if (failRunDump) {
      pb.environment().put("FAIL_RUN_DUMP", "1");
    }
    if (numbered) {
      pb.environment().put("NUMBERED", "1");
    }
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    return new Result(p.exitValue(), out);
  }

  private List<String> files() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("x.jar")).sorted().toList();
    }
  }

  /** Both archives, from complete lines only; the daemon stopped; nothing of the run left in the temp directory. */
  @Test
  void makesBothArchivesAndLeavesNothingBehind() throws Exception {
    Result r = run(false);
    assertEquals(0, r.code(), r.output());
    assertEquals(List.of("x.jar", "x.jar.jvmK.cli.jsa", "x.jar.jvmK.run.jsa"), files());
    assertEquals("dev/csinode/cli/Main\n", Files.readString(dir.resolve("x.jar.jvmK.cli.jsa")));
    assertEquals("dev/csinode/agent/Agent\ndev/csinode/cli/Main\n", Files.readString(dir.resolve("x.jar.jvmK.run.jsa")),
        "the daemon's torn last line is left out");
    assertLeftNothing();
  }

  /** Class lists whose lines carry ids (JDK 25): merged without them, each class once, and the archives made. */
  @Test
  void numberedClassListsAreMergedWithoutTheirIds() throws Exception {
    Result r = run(false, true);
    assertEquals(0, r.code(), r.output());
    assertEquals("dev/csinode/cli/Main\n", Files.readString(dir.resolve("x.jar.jvmK.cli.jsa")));
    assertEquals("dev/csinode/agent/Agent\ndev/csinode/cli/Main\n", Files.readString(dir.resolve("x.jar.jvmK.run.jsa")));
    assertLeftNothing();
  }

  /** A failed dump: exit 1 saying why, no temporary archive left, and the daemon stopped all the same. */
  @Test
  void aFailedDumpLeavesNoTemporaryArchive() throws Exception {
    Result r = run(true);
    assertEquals(1, r.code(), r.output());
    assertTrue(r.output().contains("java -Xshare:dump failed for " + dir.resolve("x.jar") + " (run)") && r.output().contains("dump broke"),
        r.output());
    assertEquals(List.of("x.jar", "x.jar.jvmK.cli.jsa"), files());
    assertLeftNothing();
  }

  private void assertLeftNothing() throws Exception {
    long pid = Long.parseLong(Files.readString(dir.resolve("agent.pid")).strip());
    assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the training daemon " + pid + " still runs");
    Path work = Path.of(Files.readString(dir.resolve("work")).strip()).getParent();
    assertEquals(tmp, work.getParent(), "the work directory is in TMPDIR");
    try (Stream<Path> s = Files.list(tmp)) {
      assertEquals(List.of(), s.toList(), "left in TMPDIR");
    }
  }
}
