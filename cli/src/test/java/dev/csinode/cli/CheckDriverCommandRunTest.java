package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * check-driver end to end, as a driver's CI runs it (root, private mount namespace): the bundled hostpath driver run
 * as a command by the cli's own hostpath-driver subcommand passes the basic suite; --list runs nothing; a socket
 * nobody serves any more is a probe failure. A few scenarios only (--scenario), to stay fast.
 */
class CheckDriverCommandRunTest {
  private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
  private static final String CLASSPATH = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));

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

  /** The cli's hostpath-driver subcommand, quoted for --driver-command's shell-like splitting. */
  private static String hostpathCommand() {
    return "'" + JAVA + "' -cp '" + CLASSPATH + "' " + Main.class.getName()
        + " hostpath-driver --endpoint unix://{endpoint} --state-dir state";
  }

  @Test
  void theBundledDriverPassesTheBasicSuiteWithSkipsExplainedAndJUnitToMatch() throws Exception {
    PrivateMountNamespace.require();
    Path junit = dir.resolve("check.xml");
    int status = run("--driver-command", hostpathCommand(), "--suite", "basic", "--scenario", "inline-ephemeral",
        "--scenario", "reboot", "--scenario", "node-scale", "--junit", junit.toString(), "--html", dir.resolve("r.html").toString(),
        "--root-dir", dir.resolve("w").toString());
    String text = out.toString();
    assertEquals(0, status, text + err);
    assertTrue(text.startsWith("driver: hostpath.csinode.dev "), text);
    assertTrue(text.contains("\nnode capabilities: EXPAND_VOLUME, GET_VOLUME_STATS, SINGLE_NODE_MULTI_WRITER, STAGE_UNSTAGE_VOLUME"), text);
    assertTrue(text.contains("""
        SCENARIO          RESULT  REASON
        inline-ephemeral  PASS
        node-scale        SKIP    skipped: scale scenario, run it with simulate
        reboot            SKIP    skipped: suite full (give --suite full)

        PASS: 1 passed, 0 failed, 0 errors, 2 skipped
        """), text);
    String xml = Files.readString(junit);
    assertTrue(xml.contains("<testsuite name=\"csi-node-agent check-driver\" tests=\"3\" failures=\"0\" errors=\"0\""), xml);
    assertTrue(xml.contains("<skipped message=\"skipped: suite full (give --suite full)\"/>"), xml);
    assertTrue(Files.readString(dir.resolve("r.html")).contains("inline-ephemeral"));
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(dir.toString())), "no loop device left");
  }

  @Test
  void listProbesTheDriverAndRunsNothing() throws Exception {
    Path work = dir.resolve("w");
    assertEquals(0, run("--driver-command", hostpathCommand(), "--list", "--root-dir", work.toString()), out.toString() + err);
    String text = out.toString();
    assertTrue(text.contains("\ncontroller capabilities: CLONE_VOLUME, CREATE_DELETE_SNAPSHOT, CREATE_DELETE_VOLUME,"), text);
    // Columns as wide as the longest scenario name: matched by their words, not their spaces.
    assertTrue(text.matches("(?s).*\ninline-ephemeral +RUN +A CSI inline \\(ephemeral\\) volume.*"), text);
    assertTrue(text.matches("(?s).*\nnode-scale +SKIP +skipped: scale scenario, run it with simulate\n.*"), text);
    try (var entries = Files.list(work)) {
      assertEquals(List.of(work.resolve("probe")), entries.toList(), "only the probe ran");
    }
  }

  @Test
  void aSocketNobodyServesAnyMoreExitsTwoSayingSo() throws Exception {
    Path socket = dir.resolve("csi.sock");
    try (ServerSocketChannel gone = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      gone.bind(UnixDomainSocketAddress.of(socket)); // closed at once: the file stays, as after a driver's crash
    }
    assertEquals(2, run("--driver-endpoint", "unix://" + socket, "--root-dir", dir.resolve("w").toString()));
    assertTrue(err.toString().contains("check-driver: nothing serves " + socket + " (a socket left by a driver that exited?)"),
        err.toString());
  }
}
