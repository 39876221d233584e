package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.csinode.mount.Mounter;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** scripts/install.sh into a temporary root: what it installs, that it is idempotent, and what uninstall keeps. */
class InstallScriptTest {
  private static final Path SCRIPT = Path.of("").toAbsolutePath().getParent().resolve("scripts/install.sh");
  @TempDir Path dir;

  private record Result(int code, String output) {}

  private Result install(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("bash", SCRIPT.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    return new Result(p.exitValue(), out);
  }

  private Path jar() throws IOException {
    return Files.writeString(dir.resolve("built.jar"), "not really a jar: the installer only copies it");
  }

  /** Every file and directory beneath the root, with its mode and (for files) its content. */
  private static Map<String, String> tree(Path root) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.toList()) {
        String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
        out.put(root.relativize(p).toString(), mode + (Files.isRegularFile(p) ? " " + Files.readString(p) : ""));
      }
    }
    return out;
  }

  @Test
  void installsProgramUnitConfigAndPrivateStateIdempotently() throws Exception {
    Path root = dir.resolve("root");
    Result first = install("--root", root.toString(), "--jar", jar().toString());
    assertEquals(0, first.code(), first.output());
    assertTrue(first.output().contains("installed the default config"), first.output());
    Path launcher = root.resolve("usr/local/bin/csi-node-agent");
    Path unit = root.resolve("etc/systemd/system/csi-node-agent.service");
    Path config = root.resolve("etc/csi-node-agent/config.yaml");
    Path state = root.resolve("var/lib/kubelet/csi-node-agent");
    assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(launcher)));
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(unit)));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
    assertEquals("not really a jar: the installer only copies it",
        Files.readString(root.resolve("usr/local/lib/csi-node-agent/csi-node-agent.jar")));
    String unitText = Files.readString(unit);
    assertTrue(unitText.contains("ExecStart=/usr/local/bin/csi-node-agent run --config /etc/csi-node-agent/config.yaml"), unitText);
    assertTrue(unitText.contains("Type=notify") && unitText.contains("WatchdogSec=") && unitText.contains("ExecReload=/bin/kill -HUP $MAINPID"));
    for (String ns : List.of("PrivateMounts=", "ProtectSystem=", "PrivateTmp=", "ProtectHome=", "PrivateDevices=")) {
      assertFalse(unitText.lines().anyMatch(l -> l.startsWith(ns)), "no mount namespace of its own: " + ns);
    }
    String launcherText = Files.readString(launcher);
    assertTrue(launcherText.contains("jar=\"/usr/local/lib/csi-node-agent/csi-node-agent.jar\""), launcherText);
    assertFalse(launcherText.contains("mvn"), "the installed launcher never builds");
    assertTrue(launcherText.contains("-XX:SharedArchiveFile="), launcherText);
    assertFalse(Files.exists(root.resolve("usr/local/lib/csi-node-agent/csi-node-agent.jar.cli.jsa")),
        "no class-data sharing archive for a staged root: it is bound to the jar's path");
    // The service's JVM gets the daemon's options: the installed launcher reads a copy of the checkout's jvm-options.
    assertEquals(Files.readString(SCRIPT.resolveSibling("jvm-options")),
        Files.readString(root.resolve("usr/local/lib/csi-node-agent/jvm-options")));
    assertTrue(launcherText.contains("source \"/usr/local/lib/csi-node-agent/jvm-options\" && jvm_options \"${1:-}\""), launcherText);
    assertEquals(0, ConfigFile.read(config).values().size(), "the default config is all comments: run's defaults");

    // The operator's edit, and the modes an admin chose for directories, survive a reinstall; everything else is as
    // the first install left it.
    Files.writeString(config, "node-name: edited\n");
    Files.setPosixFilePermissions(config.getParent(), PosixFilePermissions.fromString("rwx------"));
    Files.setPosixFilePermissions(root.resolve("var/lib/kubelet"), PosixFilePermissions.fromString("rwxr-x--x"));
    Map<String, String> before = tree(root);
    Result again = install("--root", root.toString(), "--jar", jar().toString());
    assertEquals(0, again.code(), again.output());
    assertTrue(again.output().contains("kept the existing config"), again.output());
    assertEquals(before, tree(root));

    // Archives an install to / made (or scripts/cds-archive.sh), of any JVM, and what a killed run left, go with the program.
    for (String archive : List.of("csi-node-agent.jar.jvm1-2-3.cli.jsa", "csi-node-agent.jar.jvm1-2-3.run.jsa",
        "csi-node-agent.jar.jvm4-5-6.cli.jsa", "csi-node-agent.jar.jvm4-5-6.cli.jsa.tmp.77", "csi-node-agent.jar.cli.jsa")) {
      Files.writeString(root.resolve("usr/local/lib/csi-node-agent").resolve(archive), "archive");
    }
    Result uninstall = install("--uninstall", "--root", root.toString());
    assertEquals(0, uninstall.code(), uninstall.output());
    assertFalse(Files.exists(launcher) || Files.exists(unit) || Files.exists(root.resolve("usr/local/lib/csi-node-agent")));
    assertEquals("node-name: edited\n", Files.readString(config), "uninstall keeps the config");
    assertTrue(Files.isDirectory(state), "uninstall keeps the state");
    assertEquals(0, install("--uninstall", "--root", root.toString()).code(), "uninstalling twice is fine");

    Result purge = install("--uninstall", "--purge", "--root", root.toString());
    assertEquals(0, purge.code(), purge.output());
    assertFalse(Files.exists(config.getParent()) || Files.exists(state));
  }

  /**
   * The installed launcher maps the archive made for the JVM it runs (the first java on PATH) and no other: java
   * ignores an archive of another JVM and then runs with no class sharing at all, not even the JDK's own.
   */
  @Test
  void theInstalledLauncherMapsOnlyTheArchiveOfItsJvm() throws Exception {
    Path root = dir.resolve("root");
    assertEquals(0, install("--root", root.toString(), "--jar", jar().toString()).code());
    Path launcher = root.resolve("usr/local/bin/csi-node-agent");
    Path lib = root.resolve("usr/local/lib/csi-node-agent");
    // The staged launcher names /usr/local/lib; pointed at the staged jar, and a java that prints its arguments.
    Files.writeString(launcher, Files.readString(launcher).replace("jar=\"/usr/local/lib/", "jar=\"" + root + "/usr/local/lib/"));
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path java = Files.writeString(bin.resolve("java"), "#!/bin/sh\necho \"$@\"\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    String jvm = "jvm" + Files.getAttribute(java, "unix:dev") + "-" + Files.getAttribute(java, "unix:ino") + "-"
        + Files.getLastModifiedTime(java).to(TimeUnit.SECONDS);
    Path cli = Files.writeString(lib.resolve("csi-node-agent.jar." + jvm + ".cli.jsa"), "archive");
    Files.writeString(lib.resolve("csi-node-agent.jar.jvm1-2-3.run.jsa"), "archive of another JVM");

    assertTrue(launch(launcher, bin, "status").contains("-XX:SharedArchiveFile=" + cli + " "));
    String run = launch(launcher, bin, "run");
    assertFalse(run.contains("SharedArchiveFile"), "no archive of this JVM for run: none mapped, the JDK's own is used: " + run);
  }

  /** What the launcher at {@code launcher} runs, with {@code bin} first on PATH. */
  private String launch(Path launcher, Path bin, String command) throws Exception {
    ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), command).redirectErrorStream(true);
    pb.environment().put("PATH", bin + ":" + System.getenv("PATH"));
    pb.environment().remove("CSI_NODE_AGENT_JAVA_OPTS");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  @Test
  void theUnitVerifiesClean() throws Exception {
    Process which = new ProcessBuilder("sh", "-c", "command -v systemd-analyze").start();
    assumeTrue(which.waitFor() == 0, "systemd-analyze is not installed");
    Path root = dir.resolve("root");
    assertEquals(0, install("--root", root.toString(), "--jar", jar().toString()).code());
    // verify checks that ExecStart's program exists: point it at the staged launcher.
    Path copy = Files.createDirectories(dir.resolve("verify")).resolve("csi-node-agent.service");
    Files.writeString(copy, Files.readString(root.resolve("etc/systemd/system/csi-node-agent.service"))
        .replace("/usr/local/bin/csi-node-agent", root.resolve("usr/local/bin/csi-node-agent").toString()));
    Process verify = new ProcessBuilder("systemd-analyze", "verify", copy.toString()).redirectErrorStream(true).start();
    String out = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(verify.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, verify.exitValue(), out);
    assertEquals("", out.strip(), "no warnings");
  }

  @Test
  void purgeLeavesAStateDirectoryWithSomethingMountedAlone() throws Exception {
    PrivateMountNamespace.require();
    Path root = dir.resolve("root");
    assertEquals(0, install("--root", root.toString(), "--jar", jar().toString()).code());
    Path mounted = Files.createDirectories(root.resolve("var/lib/kubelet/csi-node-agent/odd"));
    Path data = Files.createDirectories(dir.resolve("data"));
    Files.writeString(data.resolve("keep"), "precious");
    new Mounter().bind(data, mounted, false, List.of());
    try {
      Result purge = install("--uninstall", "--purge", "--root", root.toString());
      assertEquals(1, purge.code(), purge.output());
      assertTrue(purge.output().contains("has something mounted beneath it; unmount it first"), purge.output());
      assertEquals("precious", Files.readString(mounted.resolve("keep")));
    } finally {
      new Mounter().unmountAll(mounted);
    }
  }

  @Test
  void usageErrorsExit2() throws Exception {
    String root = dir.resolve("root").toString();
    assertEquals(2, install("--purge", "--root", root).code());
    assertEquals(2, install("--prefix", "relative", "--root", root).code());
    assertEquals(2, install("--bogus", "--root", root).code());
    // The prefix is written into the launcher and the unit: nothing a shell or sed would read as code.
    Path marker = dir.resolve("injected");
    Result injected = install("--prefix", "/usr/$(touch " + marker + ")", "--root", root, "--jar", jar().toString());
    assertEquals(2, injected.code(), injected.output());
    assertFalse(Files.exists(marker));
    assertEquals(2, install("--prefix", "/usr/a|b", "--root", root, "--jar", jar().toString()).code());
    assertFalse(Files.exists(dir.resolve("root/etc")), "nothing installed by a refused run");
  }

  /** --purge removes the state of the root-dir the config names, and never while an agent holds its lock. */
  @Test
  void purgeFollowsTheConfiguredRootAndWaitsForTheAgentToStop() throws Exception {
    Path root = dir.resolve("root");
    assertEquals(0, install("--root", root.toString(), "--jar", jar().toString()).code());
    Files.writeString(root.resolve("etc/csi-node-agent/config.yaml"), "root-dir: /srv/kubelet # moved\n");
    Path state = Files.createDirectories(root.resolve("srv/kubelet/csi-node-agent/journal"));
    Files.writeString(state.resolve("records.log"), "x");
    Path lockFile = state.getParent().resolve("agent.lock");
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
         FileLock held = ch.lock()) {
      Result refused = install("--uninstall", "--purge", "--root", root.toString());
      assertEquals(1, refused.code(), refused.output());
      assertTrue(refused.output().contains("an agent still runs on " + state.getParent() + " (it holds agent.lock)"), refused.output());
      assertTrue(Files.exists(state.resolve("records.log")) && Files.exists(root.resolve("etc/csi-node-agent/config.yaml")),
          "nothing purged while the agent runs");
    }
    Result purged = install("--uninstall", "--purge", "--root", root.toString());
    assertEquals(0, purged.code(), purged.output());
    assertFalse(Files.exists(state.getParent()), "the configured root's state is gone");
    assertTrue(Files.isDirectory(root.resolve("srv/kubelet")), "the root itself stays");
  }
}
