package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Tag("unit")
class ConfigFileTest {
  @TempDir Path dir;

  private Path write(String text) throws IOException {
    Path f = dir.resolve("config.yaml");
    Files.writeString(f, text);
    return f;
  }

  private String refusal(String text) throws IOException {
    Path f = write(text);
    return assertThrows(ConfigFile.InvalidConfigException.class, () -> ConfigFile.read(f)).getMessage();
  }

  @Test
  void readsEveryKindOfValue() throws Exception {
    ConfigFile c = ConfigFile.read(write("""
        # comments are fine
        root-dir: /var/lib/kubelet
        node-name: node-1
        backoff-max: 2m2s
        max-parallel-operations: 8
        api-max-body-size: 4Mi
        remove-orphans: false
        metrics-address: ""
        log-level: WARN
        log-levels:
          dev.csinode.agent: debug
        """));
    assertEquals(Map.of("root-dir", "/var/lib/kubelet", "node-name", "node-1", "backoff-max", "2m2s",
        "max-parallel-operations", "8", "api-max-body-size", "4Mi", "remove-orphans", "false", "metrics-address", ""), c.values());
    assertEquals(Map.of(ConfigFile.ROOT_LOGGER, "warn", "dev.csinode.agent", "debug"), c.logLevels());
    assertEquals("2m2s", c.defaultFor("--backoff-max"));
    assertNull(c.defaultFor("--csi-timeout"));
  }

  /** Every flag of run is a key of the file (a new flag without one would be missed by operators' configs). */
  @Test
  void everyRunFlagIsAKey() {
    CommandLine run = Main.commandLine().getSubcommands().get("run");
    for (var option : run.getCommandSpec().options()) {
      String name = option.longestName();
      if (!List.of("--config", "--help", "--version").contains(name)) {
        assertTrue(ConfigFile.KEYS.containsKey(name.substring(2)), name + " has no key in the config file");
      }
    }
    for (String key : ConfigFile.KEYS.keySet()) {
      assertTrue(run.getCommandSpec().findOption("--" + key) != null, key + " is no flag of run");
    }
  }

  @Test
  void anEmptyFileGivesEveryDefault() throws Exception {
    ConfigFile c = ConfigFile.read(write("# nothing set\n"));
    assertTrue(c.values().isEmpty());
    assertTrue(c.logLevels().isEmpty());
  }

  @Test
  void refusalsNameTheFileLineAndKey() throws Exception {
    String f = dir.resolve("config.yaml").toString();
    assertEquals(f + ":2: unknown key \"bakoff-max\"; known keys: api-max-body-size, api-socket, backoff-initial, backoff-max, "
        + "csi-timeout, drain-on-exit, log-format, max-parallel-operations, metrics-address, node-name, pod-manifests, probe-interval, "
        + "remove-orphans, resync-period, root-dir, volume-stats-period, with-hostpath-driver, log-level, log-levels",
        refusal("root-dir: /x\nbakoff-max: 1s\n"));
    assertEquals(f + ":3: backoff-max: \"3x\" is not a duration in Go notation (such as 500ms, 10s, 2m2s)",
        refusal("root-dir: /x\n\nbackoff-max: 3x\n"));
    assertEquals(f + ":1: backoff-max: \"9999999999999999h\" is not a duration in Go notation (such as 500ms, 10s, 2m2s)",
        refusal("backoff-max: 9999999999999999h\n"));
    assertEquals(f + ":1: max-parallel-operations: \"0\" is not a whole number of at least 1", refusal("max-parallel-operations: 0\n"));
    assertEquals(f + ":1: remove-orphans: \"yes please\" is not true or false", refusal("remove-orphans: yes please\n"));
    assertEquals(f + ":1: root-dir: \"relative/dir\" is not an absolute path", refusal("root-dir: relative/dir\n"));
    assertEquals(f + ":1: api-max-body-size: \"lots\" is not a size (such as 4Mi or 1048576)", refusal("api-max-body-size: lots\n"));
    assertEquals(f + ":1: log-format: \"xml\" is not text or json", refusal("log-format: xml\n"));
    assertEquals(f + ":2: root-dir: given twice", refusal("root-dir: /a\nroot-dir: /b\n"));
    assertEquals(f + ":1: log-level: \"loud\" is not a level; one of trace, debug, info, warn, error, off", refusal("log-level: loud\n"));
    assertEquals(f + ":2: log-levels.a..b: not a logger name (dot-separated Java names, or ROOT)", refusal("log-levels:\n  a..b: info\n"));
    assertTrue(refusal("root-dir: [a, b]\n").startsWith(f + ":1: root-dir: needs a single value"));
    assertTrue(refusal("- a\n- b\n").contains("the file must be a map of keys"));
    assertTrue(refusal("root-dir: /x\n  bad: [\n").startsWith(f + ":"));
    assertEquals(f + ":1: node-name: control characters are not allowed", refusal("node-name: \"a\\u001b[2Jb\"\n"));
  }

  @Test
  void aDeviceOrDirectoryIsNoConfigFile() {
    for (Path p : List.of(Path.of("/dev/zero"), dir)) {
      assertEquals(p + ": not a regular file; give the config file itself",
          assertThrows(ConfigFile.InvalidConfigException.class, () -> ConfigFile.read(p)).getMessage());
    }
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("nope.yaml");
    assertEquals(missing + ": no such config file",
        assertThrows(ConfigFile.InvalidConfigException.class, () -> ConfigFile.read(missing)).getMessage());
  }

  /** The file's values become run's defaults: a flag on the command line wins, a key left out keeps the built-in default. */
  @Test
  void theCommandLineWinsOverTheFile() throws Exception {
    Path f = write("root-dir: /srv/kubelet\nbackoff-max: 30s\nresync-period: 20s\nremove-orphans: false\nwith-hostpath-driver: true\n");
    String[] args = {"run", "--config", f.toString(), "--backoff-max", "1m"};
    CommandLine cli = Main.commandLine(args);
    cli.parseArgs(args);
    RunCommand run = cli.getSubcommands().get("run").getCommand();
    run.applyConfigFile();
    assertEquals(Path.of("/srv/kubelet"), run.rootDir);
    assertEquals(Duration.ofMinutes(1), run.backoffMax);
    assertEquals(Duration.ofSeconds(20), run.resyncPeriod, "the file's duration, read as the flag's");
    assertFalse(run.removeOrphans);
    assertTrue(run.withHostpathDriver);
    assertEquals(Duration.ofMinutes(2), run.csiTimeout, "a key the file leaves out keeps run's default");

    // A flag the file turns on can be turned off on the command line.
    String[] off = {"run", "--config", f.toString(), "--no-with-hostpath-driver"};
    CommandLine offCli = Main.commandLine(off);
    offCli.parseArgs(off);
    RunCommand offRun = offCli.getSubcommands().get("run").getCommand();
    offRun.applyConfigFile();
    assertFalse(offRun.withHostpathDriver);

    String[] plain = {"run"};
    CommandLine without = Main.commandLine(plain);
    without.parseArgs(plain);
    RunCommand defaults = without.getSubcommands().get("run").getCommand();
    assertEquals(Path.of("/var/lib/kubelet"), defaults.rootDir);
    assertTrue(defaults.removeOrphans);
  }

  @Test
  void runStopsOnAnInvalidFileWithItsLine() throws Exception {
    Path f = write("root-dir: /srv/kubelet\ncsi-timeout: soon\n");
    StringWriter err = new StringWriter();
    PrintStream saved = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true));
    int code;
    try {
      code = Main.commandLine("run", "--config", f.toString()).setErr(new PrintWriter(err, true)).execute("run", "--config", f.toString());
    } finally {
      System.setErr(saved);
    }
    assertEquals(2, code);
    assertEquals("run: " + f + ":2: csi-timeout: \"soon\" is not a duration in Go notation (such as 500ms, 10s, 2m2s)\n",
        captured.toString());
  }

  @Test
  void configCheckSaysValidOrWhyNot() throws Exception {
    Path good = write("root-dir: /srv/kubelet\nlog-level: debug\n");
    StringWriter out = new StringWriter();
    assertEquals(0, Main.commandLine().setOut(new PrintWriter(out, true)).execute("config", "check", good.toString()));
    assertEquals(good + ": valid (1 option, 1 log level)\n  root-dir: /srv/kubelet\n  log level ROOT: debug\n", out.toString());
    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, "root-dir: /x\nprobe-interval: -1s\n");
    StringWriter err = new StringWriter();
    assertEquals(1, Main.commandLine().setErr(new PrintWriter(err, true)).execute("config", "check", bad.toString()));
    assertEquals("config check: " + bad + ":2: probe-interval: \"-1s\" is not a duration in Go notation (such as 500ms, 10s, 2m2s)\n",
        err.toString());
    assertEquals(2, Main.commandLine().setErr(new PrintWriter(new StringWriter(), true)).execute("config", "check"));
  }
}
