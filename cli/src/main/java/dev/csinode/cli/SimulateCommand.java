package dev.csinode.cli;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.Directories;
import dev.csinode.mount.MountTable;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.report.HtmlReport;
import dev.csinode.simulator.report.JUnitReport;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.report.TerminalSummary;
import dev.csinode.simulator.report.TraceFile;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioParser;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ShippedScenarios;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code csi-node-agent simulate}: plays scenarios (simulator/README.md) against the bundled driver, the in-memory
 * driver or a driver under test, and reports the checks. Exit 0: every check held; 1: an invariant or an assertion
 * failed; 2: a usage or scenario error (a bad file, an unknown name, conflicting flags, a scenario that could not be
 * carried out). scripts/csi-node-agent runs it in a private mount namespace when root.
 */
@Command(name = "simulate", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Play scenarios against the node (the real volume manager) and a CSI driver: restarts, reboots, faults, "
        + "churn; check the kubelet's and CSI's rules over every call. See simulator/README.md.",
        "Exit status: 0 every check held, 1 an invariant or assertion failed, 2 a usage or scenario error."})
public final class SimulateCommand implements Callable<Integer> {
  static final int PASSED = 0;
  static final int FAILED = 1;
  static final int USAGE = 2;

  @Option(names = "--scenario", paramLabel = "FILE|NAME",
      description = "A scenario file, or the name of a shipped scenario (see --list); repeatable.")
  List<String> scenarios = new ArrayList<>();

  @Option(names = "--list", description = "List the shipped scenarios with their descriptions.")
  boolean list;

  @Option(names = "--driver-endpoint", paramLabel = "unix:///PATH", description = "The driver under test, by its CSI socket.")
  String driverEndpoint;

  @Option(names = "--driver-registration-dir", paramLabel = "DIR",
      description = "The driver under test, found through its registration socket in DIR as the kubelet finds it.")
  Path registrationDir;

  @Option(names = "--driver-command", paramLabel = "'CMD ARGS...'",
      description = "The driver under test, started (and restarted) by the simulator; {endpoint} stands for its socket path. "
          + "Split into words as a shell would (quotes, backslashes), run without a shell.")
  String driverCommand;

  @Option(names = "--in-memory-driver", description = "The in-memory driver and simulated mounts for every scenario: no root.")
  boolean inMemory;

  @Option(names = "--root-dir", paramLabel = "DIR",
      description = "Where each scenario gets its kubelet root and driver state (kept); default: a temporary directory, "
          + "removed afterwards unless --keep.")
  Path rootDir;

  @Option(names = "--seed", paramLabel = "N", description = "The seed for every scenario (overrides the scenario's own).")
  Long seed;

  @Option(names = "--junit", paramLabel = "FILE", description = "Write JUnit XML: one test case per scenario and check.")
  Path junit;

  @Option(names = "--trace", paramLabel = "FILE", description = "Write every CSI call as JSON lines.")
  Path trace;

  @Option(names = "--html", paramLabel = "FILE", description = "Write the HTML report: one timeline per volume.")
  Path html;

  @Option(names = "--keep", description = "Keep the temporary directory (roots, driver state, logs) for a look afterwards.")
  boolean keep;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    if (list) {
      if (!scenarios.isEmpty()) {
        return usage(err, "--list lists the shipped scenarios; it runs none: drop --scenario");
      }
      for (String name : ShippedScenarios.names()) {
        try {
          out.printf("%-28s %s%n", name, ShippedScenarios.load(name).description());
        } catch (ScenarioException e) {
          out.printf("%-28s (does not parse: %s)%n", name, TerminalText.text(e.getMessage()));
        }
      }
      out.flush();
      return PASSED;
    }
    if (scenarios.isEmpty()) {
      return usage(err, "which scenario? give --scenario FILE or NAME (simulate --list shows the shipped ones)");
    }
    DriverUnderTest driver;
    try {
      driver = driver();
    } catch (IllegalArgumentException e) {
      return usage(err, e.getMessage());
    }
    List<Scenario> parsed = new ArrayList<>();
    for (String s : scenarios) {
      try {
        parsed.add(load(s));
      } catch (ScenarioException e) {
        err.println("simulate: " + TerminalText.text(e.getMessage()));
        err.flush();
        return USAGE;
      }
    }
    Path work;
    boolean temporary = rootDir == null;
    try {
      // Short: the sockets beneath it must fit a UNIX socket path.
      work = temporary ? Files.createTempDirectory("csi-sim-") : Files.createDirectories(rootDir);
    } catch (IOException e) {
      return usage(err, "cannot make the work directory " + (rootDir == null ? "in " + System.getProperty("java.io.tmpdir") : rootDir)
          + ": " + e.getMessage());
    }
    List<ScenarioResult> results = new ArrayList<>();
    ScenarioRunner runner = new ScenarioRunner(new ScenarioRunner.Options(work, driver, inMemory, seed));
    // SIGTERM or Ctrl-C: the driver runs in a session of its own (no SIGINT reaches it), so the run's driver, mounts,
    // loop devices and the temporary directory are removed here or they would outlive this process.
    Thread onSignal = new Thread(() -> {
      runner.abort();
      if (temporary && !keep) {
        remove(work, err);
      }
    }, "simulate-abort");
    Runtime.getRuntime().addShutdownHook(onSignal);
    try {
      for (int i = 0; i < parsed.size(); i++) {
        results.add(runner.run(parsed.get(i), i + 1));
      }
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(onSignal);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook does the cleanup
      }
      if (temporary && !keep) {
        remove(work, err);
      } else {
        err.println("simulate: the scenarios' directories are in " + TerminalText.text(work.toString()));
      }
    }
    out.print(TerminalSummary.render(results, CommandLine.Help.Ansi.AUTO.enabled()));
    out.flush();
    int status = results.stream().anyMatch(r -> r.error() != null) ? USAGE : results.stream().allMatch(ScenarioResult::passed) ? PASSED : FAILED;
    try {
      if (junit != null) {
        JUnitReport.write(results, junit);
      }
      if (trace != null) {
        TraceFile.write(results, trace);
      }
      if (html != null) {
        HtmlReport.write(results, html);
      }
    } catch (IOException | RuntimeException e) {
      err.println("simulate: cannot write a report: " + TerminalText.text(e.getMessage()));
      status = USAGE;
    }
    err.flush();
    return status;
  }

  private int usage(PrintWriter err, String message) {
    err.println("simulate: " + TerminalText.text(message));
    err.flush();
    return USAGE;
  }

  /** The driver under test the flags name (at most one), or null for the scenario's own choice. */
  private DriverUnderTest driver() {
    int given = (driverEndpoint != null ? 1 : 0) + (registrationDir != null ? 1 : 0) + (driverCommand != null ? 1 : 0);
    if (given > 1) {
      throw new IllegalArgumentException("give the driver under test once: --driver-endpoint, --driver-registration-dir and "
          + "--driver-command exclude each other");
    }
    if (given == 1 && inMemory) {
      throw new IllegalArgumentException("--in-memory-driver and a driver under test exclude each other");
    }
    if (driverEndpoint != null) {
      return new DriverUnderTest.Endpoint(UnixEndpoint.parse(driverEndpoint));
    }
    if (registrationDir != null) {
      return new DriverUnderTest.RegistrationDir(registrationDir.toAbsolutePath().normalize());
    }
    if (driverCommand != null) {
      List<String> argv = words(driverCommand);
      if (argv.isEmpty()) {
        throw new IllegalArgumentException("--driver-command is empty");
      }
      return new DriverUnderTest.Command(argv);
    }
    return null;
  }

  /** A file when one exists there (or the argument looks like a path), else a shipped scenario's name. */
  private static Scenario load(String arg) throws ScenarioException {
    Path file = Path.of(arg);
    if (Files.exists(file) || arg.contains("/") || arg.endsWith(".yaml") || arg.endsWith(".yml")) {
      return ScenarioParser.parse(file);
    }
    if (!ShippedScenarios.exists(arg)) {
      throw new ScenarioException("no scenario file " + arg + " and no shipped scenario of that name; shipped: "
          + String.join(", ", ShippedScenarios.names()));
    }
    return ShippedScenarios.load(arg);
  }

  /**
   * Splits a command line into words as a POSIX shell does for quoting: single quotes keep everything, double quotes
   * keep all but a backslash before " \ $ `, a backslash outside quotes keeps the next character; no expansion.
   */
  static List<String> words(String line) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    boolean inWord = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (c == '\'') {
        int end = line.indexOf('\'', i + 1);
        if (end < 0) {
          throw new IllegalArgumentException("--driver-command: a single quote is not closed");
        }
        word.append(line, i + 1, end);
        i = end;
        inWord = true;
      } else if (c == '"') {
        int j = i + 1;
        for (; j < line.length() && line.charAt(j) != '"'; j++) {
          char d = line.charAt(j);
          if (d == '\\' && j + 1 < line.length() && "\"\\$`".indexOf(line.charAt(j + 1)) >= 0) {
            d = line.charAt(++j);
          }
          word.append(d);
        }
        if (j >= line.length()) {
          throw new IllegalArgumentException("--driver-command: a double quote is not closed");
        }
        i = j;
        inWord = true;
      } else if (c == '\\') {
        if (i + 1 < line.length()) {
          word.append(line.charAt(++i));
        }
        inWord = true;
      } else if (Character.isWhitespace(c)) {
        if (inWord) {
          words.add(word.toString());
          word.setLength(0);
          inWord = false;
        }
      } else {
        word.append(c);
        inWord = true;
      }
    }
    if (inWord) {
      words.add(word.toString());
    }
    return words;
  }

  /** Removes the temporary directory, unless something is still mounted beneath it (then it is left and named). */
  private static void remove(Path dir, PrintWriter err) {
    remove(dir, err, "simulate");
  }

  /** As {@link #remove(Path, PrintWriter)}, its messages prefixed by the command's name (check-driver's too). */
  static void remove(Path dir, PrintWriter err, String command) {
    try {
      if (!MountTable.read().under(dir).isEmpty()) {
        err.println(command + ": " + TerminalText.text(dir.toString()) + " still has mounts beneath it; left in place");
        return;
      }
      Directories.deleteTree(dir, true);
    } catch (IOException | RuntimeException e) {
      err.println(command + ": cannot remove " + TerminalText.text(dir.toString()) + ": " + TerminalText.text(String.valueOf(e.getMessage())));
    }
  }
}
