package dev.csinode.cli;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.checkdriver.CapabilityProbe;
import dev.csinode.simulator.checkdriver.CheckDriver;
import dev.csinode.simulator.checkdriver.CheckReport;
import dev.csinode.simulator.checkdriver.DriverCapabilities;
import dev.csinode.simulator.checkdriver.ScenarioSelection;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.node.MountNamespace;
import dev.csinode.simulator.report.HtmlReport;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code csi-node-agent check-driver}: the shipped scenarios that apply to a driver's capabilities, run against it,
 * and a pass/fail/skip matrix for its CI (cli/README.md). Exit 0: every scenario run passed; 1: a check failed; 2: a
 * usage error, a driver that cannot be started or probed, or a scenario that could not be carried out.
 * scripts/csi-node-agent runs it in a private mount namespace when root, as simulate.
 */
@Command(name = "check-driver", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Check a CSI driver against the kubelet's behaviour: read its capabilities (GetPluginInfo, "
        + "GetPluginCapabilities, ControllerGetCapabilities, NodeGetCapabilities, NodeGetInfo), run the shipped scenarios "
        + "that apply to them against it on a simulated node with real mounts (root), and print a pass/fail/skip matrix "
        + "with the reason of each failure and a hint from the CSI spec or the kubelet. Skipped scenarios say why. "
        + "Output stable from run to run, for a driver's CI.",
        "Exit status: 0 every scenario run passed (skips allowed), 1 a check failed, 2 a usage error, a driver that cannot "
            + "be started or probed, or a scenario that could not be carried out."})
public final class CheckDriverCommand implements Callable<Integer> {
  private static final String NAME = "check-driver";

  @Option(names = "--driver-command", paramLabel = "'CMD ARGS...'",
      description = "The driver, started by check-driver (once for the probe, then for each scenario); {endpoint} stands for "
          + "its socket path. Split into words as a shell would (quotes, backslashes), run without a shell. Its mounts are checked.")
  String driverCommand;

  @Option(names = "--driver-endpoint", paramLabel = "unix:///PATH",
      description = "The driver, by the CSI socket it serves. It is taken to mount in a mount namespace of its own: its mounts are "
          + "not checked, and scenarios that restart it or read and write data through its volumes are skipped.")
  String driverEndpoint;

  @Option(names = "--suite", paramLabel = "basic|full", defaultValue = "basic",
      description = "basic (default): the ordinary lives; full: those and the failure modes. Scale scenarios never (simulate's).")
  String suite;

  @Option(names = "--scenario", paramLabel = "NAME",
      description = "Only this shipped scenario (repeatable); it is still skipped when the suite or the driver's capabilities exclude it.")
  List<String> scenarios = new ArrayList<>();

  @Option(names = "--junit", paramLabel = "FILE",
      description = "Write JUnit XML: one test suite, a test case per scenario (skipped ones with their reason, failures with checks and hints).")
  Path junit;

  @Option(names = "--html", paramLabel = "FILE", description = "Write the HTML report of the scenarios run: one timeline per volume.")
  Path html;

  @Option(names = "--root-dir", paramLabel = "DIR",
      description = "Where the probe and each scenario get their directories (kept); default: a temporary directory, removed "
          + "afterwards unless --keep. Short: the sockets beneath it must fit a UNIX socket path.")
  Path rootDir;

  @Option(names = "--keep", description = "Keep the temporary directory (roots, driver logs) for a look afterwards.")
  boolean keep;

  @Option(names = "--list", description = "Probe the driver and print what would run and what is skipped and why; run nothing.")
  boolean list;

  @Spec
  CommandSpec spec;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    DriverUnderTest driver;
    Scenario.Suite chosen;
    try {
      driver = driver();
      chosen = suite();
    } catch (IllegalArgumentException e) {
      return fail(err, e.getMessage());
    }
    Path work;
    boolean temporary = rootDir == null;
    try {
      // Short: the sockets beneath it must fit a UNIX socket path.
      work = temporary ? Files.createTempDirectory("csi-check-") : Files.createDirectories(rootDir).toAbsolutePath().normalize();
    } catch (IOException e) {
      return fail(err, "cannot make the work directory " + (rootDir == null ? "in " + System.getProperty("java.io.tmpdir") : rootDir)
          + ": " + e.getMessage());
    }
    CheckDriver check = new CheckDriver(new CheckDriver.Options(driver, chosen, scenarios, work, Duration.ofMinutes(2)));
    // SIGTERM or Ctrl-C: the driver runs in a session of its own (no SIGINT reaches it), so the probe's or the run's
    // driver, mounts, loop devices and the temporary directory are removed here or they would outlive this process.
    Thread onSignal = new Thread(() -> {
      check.abort();
      if (temporary && !keep) {
        SimulateCommand.remove(work, err, NAME);
      }
    }, "check-driver-abort");
    Runtime.getRuntime().addShutdownHook(onSignal);
    try {
      return check(check, chosen, work, out, err);
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(onSignal);
      } catch (IllegalStateException e) {
        // the JVM is shutting down: the hook does the cleanup
      }
      if (temporary && !keep) {
        SimulateCommand.remove(work, err, NAME);
      } else {
        err.println(NAME + ": the probe's and the scenarios' directories are in " + TerminalText.text(work.toString()));
      }
      err.flush();
    }
  }

  private int check(CheckDriver check, Scenario.Suite chosen, Path work, PrintWriter out, PrintWriter err) {
    List<Scenario> shipped;
    try {
      shipped = check.scenarios();
    } catch (ScenarioException e) {
      return fail(err, e.getMessage());
    }
    if (!list) {
      String refusal = realMountsRefusal();
      if (refusal != null) {
        return fail(err, refusal);
      }
    }
    DriverCapabilities capabilities;
    try {
      capabilities = check.probe();
    } catch (CapabilityProbe.Failure e) {
      return fail(err, e.getMessage());
    }
    List<ScenarioSelection.Decision> decisions = check.select(shipped, capabilities);
    if (list) {
      out.print(CheckReport.selection(capabilities, chosen, decisions));
      out.flush();
      return CheckReport.PASSED;
    }
    List<CheckDriver.Entry> entries = check.run(decisions);
    out.print(CheckReport.render(capabilities, chosen, entries, work));
    out.flush();
    int status = CheckReport.status(entries);
    try {
      if (junit != null) {
        CheckReport.writeJUnit(entries, work, junit);
      }
      if (html != null) {
        HtmlReport.write(entries.stream().map(CheckDriver.Entry::result).filter(Objects::nonNull).toList(), html);
      }
    } catch (IOException | RuntimeException e) {
      err.println(NAME + ": cannot write a report: " + TerminalText.text(String.valueOf(e.getMessage())));
      status = CheckReport.ERROR;
    }
    return status;
  }

  /** Why real mounts cannot be made here (not root, or the host's mount namespace), or null. */
  private static String realMountsRefusal() {
    Object uid;
    try {
      uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | UnsupportedOperationException e) {
      return "cannot tell whether this process runs as root: " + e.getMessage();
    }
    if (!Integer.valueOf(0).equals(uid)) {
      return "the scenarios make real mounts and need root (this process runs as uid " + uid + "); run it as root through "
          + "scripts/csi-node-agent";
    }
    try {
      MountNamespace.requirePrivate();
    } catch (IllegalStateException e) {
      return e.getMessage();
    }
    return null;
  }

  private int fail(PrintWriter err, String message) {
    err.println(NAME + ": " + TerminalText.text(message));
    err.flush();
    return CheckReport.ERROR;
  }

  private DriverUnderTest driver() {
    if ((driverCommand == null) == (driverEndpoint == null)) {
      throw new IllegalArgumentException(driverCommand == null
          ? "which driver? give --driver-command 'CMD ARGS...' or --driver-endpoint unix:///PATH"
          : "give the driver once: --driver-command and --driver-endpoint exclude each other");
    }
    if (driverEndpoint != null) {
      return new DriverUnderTest.Endpoint(UnixEndpoint.parse(driverEndpoint));
    }
    List<String> argv = SimulateCommand.words(driverCommand);
    if (argv.isEmpty()) {
      throw new IllegalArgumentException("--driver-command is empty");
    }
    return new DriverUnderTest.Command(argv);
  }

  private Scenario.Suite suite() {
    if (suite.equals("basic")) {
      return Scenario.Suite.BASIC;
    }
    if (suite.equals("full")) {
      return Scenario.Suite.FULL;
    }
    throw new IllegalArgumentException("--suite: '" + suite + "' is not basic or full");
  }
}
