package dev.csinode.simulator.checkdriver;

import dev.csinode.simulator.driver.DriverProcess;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioRunner;
import dev.csinode.simulator.scenario.ShippedScenarios;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code csi-node-agent check-driver}'s work, without the command line: read the driver's capabilities, decide which
 * shipped scenarios apply ({@link ScenarioSelection}), run those with the {@link ScenarioRunner} against the driver,
 * as {@code simulate} runs them, and hand the results to {@link CheckReport}.
 */
public final class CheckDriver {
  /** The probe's directory in the work directory, next to the scenarios' numbered ones. */
  static final String PROBE_DIR = "probe";
  private static final Duration ABORT_WAIT = Duration.ofSeconds(10);
  private static final Logger LOG = LoggerFactory.getLogger(CheckDriver.class);

  /**
   * @param driver          the driver under test: an endpoint or a command
   * @param suite           basic or full
   * @param only            the shipped scenarios' names to consider (--scenario); empty: all of them
   * @param workDir         where the probe and each scenario get their directories
   * @param teardownTimeout how long a scenario's cleanup waits for the node's teardown (see ScenarioRunner.Options)
   */
  public record Options(DriverUnderTest driver, Scenario.Suite suite, List<String> only, Path workDir, Duration teardownTimeout) {
    public Options {
      Objects.requireNonNull(driver, "driver");
      Objects.requireNonNull(suite, "suite");
      Objects.requireNonNull(workDir, "workDir");
      only = List.copyOf(new LinkedHashSet<>(only));
    }
  }

  /** A scenario's decision and, when it ran, its result. */
  public record Entry(ScenarioSelection.Decision decision, ScenarioResult result) {
    public Verdict verdict() {
      if (result == null) {
        return Verdict.SKIP;
      }
      if (result.error() != null) {
        return Verdict.ERROR;
      }
      return result.passed() ? Verdict.PASS : Verdict.FAIL;
    }
  }

  /** A matrix row's result. */
  public enum Verdict { PASS, FAIL, ERROR, SKIP }

  private final Options options;
  private final ScenarioRunner runner;
  /** The driver process the probe started, while it runs: a shutdown hook kills it. */
  private volatile DriverProcess probing;

  public CheckDriver(Options options) {
    this.options = options;
    this.runner = new ScenarioRunner(new ScenarioRunner.Options(options.workDir(), options.driver(), false, null,
        options.teardownTimeout()));
  }

  /** The shipped scenarios to consider: all, or those {@code only} names; a name not shipped is refused. */
  public List<Scenario> scenarios() throws ScenarioException {
    List<String> names = options.only().isEmpty() ? ShippedScenarios.names() : options.only();
    for (String n : names) {
      if (!ShippedScenarios.exists(n)) {
        throw new ScenarioException("no shipped scenario named \"" + n + "\"; shipped: " + String.join(", ", ShippedScenarios.names()));
      }
    }
    List<Scenario> scenarios = new ArrayList<>();
    for (String n : names) {
      scenarios.add(ShippedScenarios.load(n));
    }
    return scenarios;
  }

  /** The driver's capabilities (a command is started for the questions and stopped after them). */
  public DriverCapabilities probe() throws CapabilityProbe.Failure {
    try {
      return CapabilityProbe.probe(options.driver(), options.workDir().resolve(PROBE_DIR), p -> probing = p);
    } finally {
      probing = null;
    }
  }

  public List<ScenarioSelection.Decision> select(List<Scenario> scenarios, DriverCapabilities capabilities) {
    return ScenarioSelection.of(scenarios, capabilities, options.suite(), options.driver() instanceof DriverUnderTest.Command);
  }

  /** Runs the decisions that run, one after the other, each on a fresh node in {@code workDir/<n>}. Blocking. */
  public List<Entry> run(List<ScenarioSelection.Decision> decisions) {
    List<Entry> entries = new ArrayList<>();
    int ordinal = 0;
    for (ScenarioSelection.Decision d : decisions) {
      entries.add(new Entry(d, d.runs() ? runner.run(d.scenario(), ++ordinal) : null));
    }
    return entries;
  }

  /** The forced cleanup of the scenario in progress, for a shutdown hook (see {@link ScenarioRunner#abort}). */
  public void abort() {
    DriverProcess p = probing;
    if (p != null) {
      try {
        // It runs in a session of its own (setsid): no terminal signal reaches it, so it would outlive this process.
        p.kill().toCompletionStage().toCompletableFuture().get(ABORT_WAIT.toSeconds(), TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException | TimeoutException e) {
        LOG.warn("check-driver: the probed driver could not be killed: {}", e.getMessage());
      }
    }
    runner.abort();
  }
}
