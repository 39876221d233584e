package dev.csinode.simulator.scenario;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.api.AgentApi;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.agent.provisioner.Quantities;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.agent.volume.VolData;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.simulator.driver.DriverHarness;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.invariants.EndState;
import dev.csinode.simulator.invariants.Invariant;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.invariants.Violation;
import dev.csinode.simulator.node.MountNamespace;
import dev.csinode.simulator.node.SimulatedNode;
import dev.csinode.simulator.proxy.FaultProxy;
import dev.csinode.simulator.proxy.FaultRule;
import dev.csinode.simulator.proxy.FaultRules;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.simulator.trace.Trace;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.SummarySnapshot;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays scenarios: per scenario a fresh kubelet root, a {@link SimulatedNode} (the real agent), the driver under test
 * behind the fault-injecting proxy ({@link DriverHarness}) and a {@link Trace}; the steps in order; then the node is
 * let settle, the end state taken and every invariant checked; then everything is torn down and anything left
 * mounted beneath the run's directory (or a loop device backed there) is removed and reported.
 *
 * <p>Failures: a wait or an assertion that does not hold is a failed check and the run goes on (later steps show
 * what followed). A step that cannot be carried out (objects the agent refuses, a pod to write to that is not
 * there, a node that does not restart) ends the timeline: the rest would run against a node in an unknown state.
 * The result then carries the error; the invariants are still checked over what happened, and the cleanup runs.
 *
 * <p>Blocking: call {@link #run} from a thread of its own (not an event loop); each step waits for its futures.
 */
public final class ScenarioRunner {
  private static final Logger LOG = LoggerFactory.getLogger(ScenarioRunner.class);
  static final String NODE_NAME = "simulated-node";
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
  private static final Duration ACTION_TIMEOUT = Duration.ofMinutes(2);
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(30);
  static final Duration DEFAULT_TEARDOWN_TIMEOUT = Duration.ofMinutes(2);
  /** A wait's own timeout decides; this margin only keeps a lost answer from blocking the run forever. */
  private static final Duration MARGIN = Duration.ofSeconds(10);
  private static final int IO_CHUNK = 1 << 20;
  /** How often wait-calls looks at the trace and the proxy's calls in flight. */
  private static final Duration CALLS_POLL = Duration.ofMillis(10);
  /** sun_path holds 108 bytes with the terminating NUL. */
  private static final int MAX_SOCKET_PATH = 107;
  /**
   * Room kept for the driver's name in its registration socket's name: that of hostpath.csinode.dev. A driver with a
   * longer name needs a work directory shorter by the difference (its registration then fails saying so).
   */
  private static final int DRIVER_NAME_ROOM = 20;

  /**
   * How scenarios are run.
   *
   * @param workDir  where each scenario gets its directory (kubelet root, driver state, sockets)
   * @param driver   the driver under test; null: the scenario's choice (the in-memory driver or the bundled one)
   * @param inMemory the in-memory driver and simulated mounts whatever the scenario says (with its options, if any)
   * @param seed     overrides the scenarios' seeds; null: each scenario's own, else {@link Scenario#DEFAULT_SEED}
   * @param teardownTimeout how long the cleanup waits for the node to tear everything down before it removes what is
   *                 left itself and reports it (a driver that never unpublishes makes the run wait this long)
   */
  public record Options(Path workDir, DriverUnderTest driver, boolean inMemory, Long seed, Duration teardownTimeout) {
    public Options(Path workDir, DriverUnderTest driver, boolean inMemory, Long seed) {
      this(workDir, driver, inMemory, seed, DEFAULT_TEARDOWN_TIMEOUT);
    }

    public Options {
      if (driver != null && inMemory) {
        throw new IllegalArgumentException("a driver under test and the in-memory driver exclude each other");
      }
      if (teardownTimeout.isNegative() || teardownTimeout.isZero()) {
        throw new IllegalArgumentException("the teardown timeout must be positive, not " + teardownTimeout);
      }
    }
  }

  /** How long {@link #abort} may take for each of its parts (the driver's kill, the node's stop). */
  private static final Duration ABORT_STEP = Duration.ofSeconds(10);

  private final Options options;
  /** The run in progress, for {@link #abort}; null between runs. */
  private volatile Run active;

  public ScenarioRunner(Options options) {
    this.options = options;
  }

  /**
   * The forced cleanup of the run in progress, if any, for a shutdown hook (SIGTERM, Ctrl-C): the driver under test
   * killed (its process group, when the simulator started it), everything mounted beneath the run's directory
   * unmounted deepest first, the loop devices the run attached detached, the node stopped. Bounded: each part waits
   * at most {@link #ABORT_STEP}. The run's own thread is left to fail as things vanish under it.
   */
  public void abort() {
    Run run = active;
    if (run != null) {
      run.abort();
    }
  }

  /**
   * Plays one scenario in {@code <workDir>/<ordinal>}: a number, not the scenario's name, because the sockets beneath
   * it (the registration socket is {@code root/plugins_registry/<driver>-reg.sock}) must fit a UNIX socket path.
   */
  public ScenarioResult run(Scenario scenario, int ordinal) {
    return new Run(scenario, options.workDir().resolve(Integer.toString(ordinal))).play();
  }

  /** A step that could not be carried out: ends the timeline. */
  private static final class StepError extends Exception {
    StepError(String message) {
      super(message);
    }
  }

  /** One scenario's run: its node, driver, trace, and what the steps found. */
  private final class Run {
    private final Scenario scenario;
    private final Path runDir;
    private final Path rootDir;
    private final long seed;
    private final Random random;
    private final boolean inMemory;
    private final Trace trace = new Trace();
    private final List<Check> checks = new ArrayList<>();
    private final Map<String, String> figures = new LinkedHashMap<>();
    private final List<EndState.DataCheck> dataChecks = new ArrayList<>();
    /** sha-256 of what write-data wrote, by volume unique name and file: a later pod on the same volume reads it. */
    private final Map<String, String> written = new LinkedHashMap<>();
    private final Map<String, TeardownWatch.Known> known = new ConcurrentHashMap<>();
    private final Set<String> faultsOn = new LinkedHashSet<>();
    private Vertx vertx;
    private TeardownWatch teardown;
    private SimulatedMounts simulatedMounts;
    private volatile MountPoints mounts;
    private volatile SimulatedNode node;
    private volatile DriverHarness harness;
    /** The loop devices ("NAME BACK-FILE") attached before the run: never the run's to detach. */
    private Set<String> loopsBefore = Set.of();

    Run(Scenario scenario, Path runDir) {
      this.scenario = scenario;
      this.runDir = runDir.toAbsolutePath().normalize();
      this.rootDir = this.runDir.resolve("root");
      this.seed = options.seed() != null ? options.seed() : scenario.seed() != null ? scenario.seed() : Scenario.DEFAULT_SEED;
      this.random = new Random(seed);
      this.inMemory = givenMounts() != null || options.driver() == null && (options.inMemory() || scenario.inMemoryDriver() != null);
    }

    ScenarioResult play() {
      long start = System.nanoTime();
      String error = null;
      boolean started = false;
      active = this;
      try {
        start();
        started = true;
        for (ScenarioStep step : scenario.steps()) {
          LOG.info("scenario {}: {}", scenario.name(), step.label());
          try {
            play(step);
          } catch (StepError e) {
            error = step.label() + " (line " + step.line() + "): " + e.getMessage();
            LOG.warn("scenario {}: {}; the remaining steps are skipped", scenario.name(), error);
            break;
          }
        }
        endOfRun();
      } catch (StepError e) {
        error = (started ? "" : "could not start: ") + e.getMessage();
      } catch (RuntimeException e) {
        LOG.error("scenario {} failed", scenario.name(), e);
        error = "the run failed: " + e;
      } finally {
        String cleanup = cleanUp();
        active = null;
        if (cleanup != null && error == null) {
          error = cleanup;
        }
      }
      return new ScenarioResult(scenario.name(), scenario.description(), seed, scenario.steps().size(), checks, trace.calls(),
          (System.nanoTime() - start) / 1_000_000, error, figures);
    }

    private void start() throws StepError {
      if (!inMemory) {
        requireRoot();
        try {
          MountNamespace.requirePrivate();
        } catch (IllegalStateException e) {
          throw new StepError(e.getMessage());
        }
      }
      int longest = rootDir.resolve("plugins_registry").toString().length() + 1 + DRIVER_NAME_ROOM + "-reg.sock".length();
      if (longest > MAX_SOCKET_PATH) {
        throw new StepError("the work directory " + options.workDir() + " is too long a path: the sockets beneath it would not "
            + "fit a UNIX socket path (" + MAX_SOCKET_PATH + " bytes); give a shorter --root-dir");
      }
      try {
        if (Files.isDirectory(runDir, LinkOption.NOFOLLOW_LINKS)) {
          try (Stream<Path> entries = Files.list(runDir)) {
            if (entries.findAny().isPresent()) {
              // A kept directory holds an earlier run's journal and volumes: the node would reconstruct them.
              throw new StepError("the run's directory " + runDir + " is not empty (an earlier run's?); remove it or give "
                  + "another --root-dir");
            }
          }
        }
        Files.createDirectories(rootDir);
      } catch (IOException e) {
        throw new StepError("cannot make the run's directory " + rootDir + ": " + e.getMessage());
      }
      vertx = Vertx.vertx();
      teardown = new TeardownWatch(vertx);
      DriverUnderTest driver = options.driver();
      if (givenMounts() != null) {
        // An in-process driver on a mount table of its own (a test's broken driver): the node and the checks share it.
        simulatedMounts = givenMounts();
        mounts = simulatedMounts;
      } else if (inMemory) {
        simulatedMounts = new SimulatedMounts();
        mounts = simulatedMounts;
        InMemoryDriver.Options o = scenario.inMemoryDriver() != null ? scenario.inMemoryDriver() : ScenarioParser.inMemoryDefaults();
        driver = new DriverUnderTest.InProcess(new InMemoryDriver(o, simulatedMounts));
      } else {
        mounts = MountPoints.host();
        if (driver == null) {
          driver = new DriverUnderTest.InProcess(bundledDriver());
        }
        loopsBefore = Set.copyOf(LoopDevices.list());
      }
      node = await(SimulatedNode.start(new SimulatedNode.Options(rootDir, NODE_NAME, volumeOptions(), simulatedMounts, runDir)),
          START_TIMEOUT, "starting the node");
      harness = await(DriverHarness.start(vertx, driver, runDir.resolve("driver"), rootDir.resolve("plugins_registry"), NODE_NAME,
          FaultRules.of(List.of(), seed), trace, new FaultProxy.Checks(driverOutside() ? null : mounts, true)), START_TIMEOUT,
          "starting the driver under test");
      if (driverOutside()) {
        figures.put("mount checks", "off: the driver runs outside the simulator's mount namespace");
      }
      LOG.info("scenario {}: driver {} ({}), seed {}, root {}", scenario.name(), harness.driverName(),
          inMemory ? "in memory, simulated mounts" : "real mounts", seed, rootDir);
    }

    /**
     * Whether the driver under test is one the simulator did not start (an endpoint, a registration directory): it
     * mounts in a mount namespace of its own, so what this process sees mounted says nothing about it.
     */
    private boolean driverOutside() {
      return options.driver() instanceof DriverUnderTest.Endpoint || options.driver() instanceof DriverUnderTest.RegistrationDir;
    }

    /** The bundled hostpath driver with the scenario's {@code driver: {hostpath: ...}} settings, if it has any. */
    private BundledHostpathDriver bundledDriver() {
      Scenario.HostpathOptions o = scenario.hostpathDriver();
      return o == null ? BundledHostpathDriver.INSTANCE : BundledHostpathDriver.withSettings(o.maxVolumes(), o.attach());
    }

    /** The simulated mount table an in-process driver under test came with, or null. */
    private SimulatedMounts givenMounts() {
      return options.driver() instanceof DriverUnderTest.InProcess p ? p.mounts() : null;
    }

    private VolumeManager.Options volumeOptions() throws StepError {
      try {
        return scenario.volumeManager().options();
      } catch (IllegalArgumentException e) {
        throw new StepError("volumeManager: " + e.getMessage());
      }
    }

    private Agent agent() {
      return node.agent();
    }

    // ---- the steps

    private void play(ScenarioStep s) throws StepError {
      Step step = s.step();
      long t0 = System.nanoTime();
      if (step instanceof Step.Apply a) {
        apply(ManifestTemplate.render(a.text(), harness.driverName(), 0));
      } else if (step instanceof Step.Delete d) {
        if (d.objectKind().equals("Pod")) {
          remember(d.namespace() + "/" + d.name());
        }
        boolean deleted = await(agent().deleteObject(d.objectKind(), d.namespace(), d.name()), ACTION_TIMEOUT, "the delete");
        if (!deleted) {
          throw new StepError("there is no " + d.objectKind() + " " + d.namespace() + "/" + d.name() + " to delete");
        }
      } else if (step instanceof Step.WaitReady w) {
        String[] ref = w.pod().split("/");
        String failure = null;
        try {
          PodStatus status = await(agent().waitReady(ref[0], ref[1], w.timeout()), w.timeout().plus(MARGIN), "the wait");
          remember(status);
        } catch (StepError e) {
          failure = e.getMessage();
        }
        check(s.label() + " " + w.pod(), failure, t0);
      } else if (step instanceof Step.WaitGone w) {
        String failure = null;
        try {
          await(teardown.whenGone(agent(), w.pod(), known.get(w.pod()), w.timeout()), w.timeout().plus(MARGIN), "the wait");
        } catch (StepError e) {
          failure = e.getMessage();
        }
        check(s.label() + " " + w.pod(), failure, t0);
      } else if (step instanceof Step.WriteData w) {
        writeData(w);
      } else if (step instanceof Step.VerifyData v) {
        verifyData(s, v);
      } else if (step instanceof Step.AssertVolume v) {
        check(s.label() + " " + describe(v), volumeAssertion(v), t0);
      } else if (step instanceof Step.AssertOrder o) {
        check(s.label() + " " + String.join(" < ", o.methods()) + (o.volume() == null ? "" : " on " + o.volume()), orderAssertion(o), t0);
      } else if (step instanceof Step.WaitReason w) {
        check(s.label() + " " + w.pod() + " \"" + w.text() + "\"", waitReason(w), t0);
      } else if (step instanceof Step.WaitProvisioned w) {
        check(s.label() + " " + w.claim() + " " + w.state(), waitProvisioned(w), t0);
      } else if (step instanceof Step.RestartAgent r) {
        r.forget().forEach(this::remember); // for wait-gone: the uid and volumes of the pods deleted while it is down
        await(node.restart(r.crash(), r.forget()), ACTION_TIMEOUT, r.crash() ? "the agent's crash and restart" : "the agent's restart");
      } else if (step instanceof Step.RestartDriver) {
        requireRestartable("restart the driver");
        await(harness.restartDriver(), ACTION_TIMEOUT, "the driver's restart");
      } else if (step instanceof Step.Reboot) {
        requireRestartable("reboot the node (the driver stops and starts with it)");
        await(harness.stopDriver(), ACTION_TIMEOUT, "stopping the driver");
        await(node.reboot(), ACTION_TIMEOUT, "the node's reboot");
        await(harness.startDriver(), ACTION_TIMEOUT, "starting the driver after the reboot");
      } else if (step instanceof Step.Faults f) {
        faults(f);
      } else if (step instanceof Step.Pods p) {
        batch(s, p);
      } else if (step instanceof Step.Churn c) {
        churn(s, c);
      } else if (step instanceof Step.Assert a) {
        check(s.label() + " " + describe(a), assertion(a), t0);
      } else if (step instanceof Step.WaitCalls w) {
        check(s.label() + " " + describe(w), waitCalls(w), t0);
      } else if (step instanceof Step.StaleRegistration r) {
        staleRegistration(r);
      } else if (step instanceof Step.RemoveVolData r) {
        removeVolData(r);
      } else if (step instanceof Step.StopDriver) {
        requireRestartable("stop the driver");
        await(harness.stopDriver(), ACTION_TIMEOUT, "stopping the driver");
      } else if (step instanceof Step.StartDriver) {
        requireRestartable("start the driver");
        await(harness.startDriver(), ACTION_TIMEOUT, "starting the driver");
      } else if (step instanceof Step.Pause p) {
        try {
          Thread.sleep(p.duration().toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new StepError("interrupted");
        }
      }
    }

    private void apply(String text) throws StepError {
      AgentApi.ApplyResult r = await(agent().apply(text), ACTION_TIMEOUT, "the apply");
      if (!r.errors().isEmpty()) {
        throw new StepError("the agent refused objects: " + String.join("; ", r.errors()));
      }
    }

    private void requireRestartable(String what) throws StepError {
      if (!harness.canRestart()) {
        throw new StepError("cannot " + what + ": the simulator did not start the driver under test (reached by its "
            + "endpoint or registration directory); give it --driver-command instead");
      }
    }

    private void faults(Step.Faults f) {
      FaultRules rules = harness.proxy().rules();
      List<String> off = f.off().stream().filter(faultsOn::remove).toList();
      if (!off.isEmpty()) {
        rules = rules.without(off.toArray(String[]::new));
      }
      List<FaultRule> on = new ArrayList<>();
      for (String name : f.on()) {
        if (faultsOn.add(name)) {
          scenario.faults().stream().filter(r -> r.name().equals(name)).findFirst().ifPresent(on::add);
        }
      }
      if (!on.isEmpty()) {
        rules = rules.with(on.toArray(FaultRule[]::new));
      }
      harness.proxy().rules(rules);
      LOG.info("scenario {}: fault rules on: {}", scenario.name(), faultsOn);
    }

    // ---- what crashes and reboots leave on disk

    /**
     * Dead sockets (bound, then the listener closed without unlinking: what a killed registrar leaves) and regular
     * files in plugins_registry. A name already taken is a step error: the litter must not replace anything.
     */
    private void staleRegistration(Step.StaleRegistration r) throws StepError {
      Path registry = rootDir.resolve("plugins_registry");
      for (String name : r.sockets()) {
        Path socket = litter(registry, name);
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH) {
          throw new StepError("the socket " + socket + " does not fit a UNIX socket path (" + MAX_SOCKET_PATH + " bytes); "
              + "give it a shorter name");
        }
        try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
          listener.bind(UnixDomainSocketAddress.of(socket)); // closing does not unlink: the file stays, nobody listens
        } catch (IOException e) {
          throw new StepError("cannot make the dead socket " + socket + ": " + e.getMessage());
        }
      }
      for (String name : r.files()) {
        Path file = litter(registry, name);
        try {
          Files.write(file, "left over\n".getBytes(StandardCharsets.UTF_8), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
              LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
          throw new StepError("cannot make the file " + file + ": " + e.getMessage());
        }
      }
      LOG.info("scenario {}: left in {}: dead sockets {}, files {}", scenario.name(), registry, r.sockets(), r.files());
    }

    private Path litter(Path registry, String name) throws StepError {
      Path path = registry.resolve(ManifestTemplate.render(name, harness.driverName(), 0));
      if (!path.getParent().equals(registry)) {
        throw new StepError(name + " is not a plain file name"); // the parser refuses these; this is the last line
      }
      if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
        throw new StepError(path + " exists already; stale-registration never replaces a file");
      }
      return path;
    }

    /**
     * Removes {@code pods/<uid>/volumes/kubernetes.io~csi/<spec>/vol_data.json} of a published filesystem volume
     * (the spec name is the PersistentVolume's for a claim): the file the kubelet's unmounter could not do without.
     */
    private void removeVolData(Step.RemoveVolData r) throws StepError {
      PodStatus pod = agent().pod(r.pod().split("/")[0], r.pod().split("/")[1])
          .orElseThrow(() -> new StepError("pod " + r.pod() + " is not on the node"));
      PodVolume v = podVolume(r.pod(), r.volume());
      if (v.hostPath() == null) {
        throw new StepError("volume " + r.volume() + " of pod " + r.pod() + " is not published (" + v.state() + ")");
      }
      KubeletLayout layout = new KubeletLayout(rootDir);
      Path target = Path.of(v.hostPath());
      Path specDir = target.getParent();
      if (specDir == null || !target.equals(layout.publishPath(pod.uid(), specDir.getFileName().toString()))) {
        throw new StepError("volume " + r.volume() + " of pod " + r.pod() + " is not a filesystem volume published at "
            + "pods/<uid>/volumes/kubernetes.io~csi/<name>/mount (" + target + ")");
      }
      Path file = specDir.resolve(VolData.FILE);
      try {
        if (!layout.rootDir().delete(file)) { // beneath the root, no link followed
          throw new StepError("there is no " + file + " to remove");
        }
      } catch (IOException e) {
        throw new StepError("cannot remove " + file + ": " + e.getMessage());
      }
      remember(pod);
      LOG.info("scenario {}: removed {}", scenario.name(), file);
    }

    // ---- data through a pod's volume

    private Path volumeDir(String podRef, String volume, String what) throws StepError {
      if (inMemory) {
        throw new StepError(what + " needs real mounts: the in-memory driver keeps no data; run the scenario with the bundled "
            + "driver or a real one (no driver.inMemory, no --in-memory-driver)");
      }
      PodVolume v = podVolume(podRef, volume);
      if (v.hostPath() == null) {
        throw new StepError("volume " + volume + " of pod " + podRef + " is not published (" + v.state() + ")");
      }
      Path dir = Path.of(v.hostPath());
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        throw new StepError("volume " + volume + " of pod " + podRef + " is not a filesystem volume (" + dir + "): "
            + what + " writes files");
      }
      return dir;
    }

    private PodVolume podVolume(String podRef, String volume) throws StepError {
      PodStatus pod = agent().pod(podRef.split("/")[0], podRef.split("/")[1])
          .orElseThrow(() -> new StepError("pod " + podRef + " is not on the node"));
      return pod.volumes().stream().filter(v -> v.name().equals(volume)).findFirst()
          .orElseThrow(() -> new StepError("pod " + podRef + " has no volume " + volume + "; it has "
              + pod.volumes().stream().map(PodVolume::name).toList()));
    }

    private void writeData(Step.WriteData w) throws StepError {
      Path dir = volumeDir(w.pod(), w.volume(), "write-data");
      if (!mounts.isMountPoint(dir)) {
        // Else the data would go to the node's directory, not the volume, and no-data-lost would check nothing.
        throw new StepError("volume " + w.volume() + " of pod " + w.pod() + " is not a mount point here (" + dir + ")"
            + (driverOutside() ? ": the driver mounts in a mount namespace of its own; write-data needs a driver that "
            + "mounts in the simulator's (the bundled one or --driver-command)" : ""));
      }
      Path file = dir.resolve(w.file());
      long size = Quantities.bytes(w.size());
      MessageDigest sha = sha256();
      byte[] chunk = new byte[(int) Math.min(IO_CHUNK, Math.max(1, size))];
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
          StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
        for (long left = size; left > 0; ) {
          int n = (int) Math.min(chunk.length, left);
          random.nextBytes(chunk);
          sha.update(chunk, 0, n);
          ByteBuffer buf = ByteBuffer.wrap(chunk, 0, n);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
          left -= n;
        }
        ch.force(true);
      } catch (IOException e) {
        throw new StepError("cannot write " + file + ": " + e.getMessage());
      }
      written.put(podVolume(w.pod(), w.volume()).uniqueName() + "\0" + w.file(), HexFormat.of().formatHex(sha.digest()));
    }

    private void verifyData(ScenarioStep s, Step.VerifyData v) throws StepError {
      Path file = volumeDir(v.pod(), v.volume(), "verify-data").resolve(v.file());
      String unique = podVolume(v.pod(), v.volume()).uniqueName();
      String expected = written.get(unique + "\0" + v.file());
      if (expected == null) {
        throw new StepError("nothing was written to " + v.file() + " on volume " + v.volume() + " of pod " + v.pod()
            + " (" + unique + "); write-data wrote to " + written.keySet().stream().map(k -> k.replace("\0", " ")).toList());
      }
      String actual;
      MessageDigest sha = sha256();
      try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
        byte[] buf = new byte[IO_CHUNK];
        for (int n; (n = in.read(buf)) > 0; ) {
          sha.update(buf, 0, n);
        }
        actual = HexFormat.of().formatHex(sha.digest());
      } catch (NoSuchFileException e) {
        actual = null;
      } catch (IOException e) {
        throw new StepError("cannot read " + file + ": " + e.getMessage());
      }
      dataChecks.add(new EndState.DataCheck(v.pod(), v.volume(), v.file(), s.label(), expected, actual));
    }

    private MessageDigest sha256() {
      try {
        return MessageDigest.getInstance("SHA-256");
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    // ---- the volume as the pod sees it, the order of calls, why a pod waits, provisioned volumes

    private String describe(Step.AssertVolume v) {
      return v.pod() + " " + v.volume() + (v.readOnly() == null ? "" : v.readOnly() ? " read-only" : " writable")
          + (v.group() == null ? "" : " group " + v.group());
    }

    /** Null when the pod's volume is as asserted, else what was found. */
    private String volumeAssertion(Step.AssertVolume a) throws StepError {
      Path dir = volumeDir(a.pod(), a.volume(), "assert-volume");
      if (!mounts.isMountPoint(dir)) {
        throw new StepError("volume " + a.volume() + " of pod " + a.pod() + " is not a mount point here (" + dir + ")"
            + (driverOutside() ? ": the driver mounts in a mount namespace of its own; assert-volume needs a driver that "
            + "mounts in the simulator's (the bundled one or --driver-command)" : ""));
      }
      List<String> wrong = new ArrayList<>();
      if (a.group() != null) {
        String g = groupProblem(dir, a.group());
        if (g != null) {
          wrong.add(g);
        }
      }
      if (a.readOnly() != null) {
        String w = a.readOnly() ? readOnlyProblem(dir) : writableProblem(dir);
        if (w != null) {
          wrong.add(w);
        }
      }
      return wrong.isEmpty() ? null : "volume " + a.volume() + " of pod " + a.pod() + " (" + dir + "): " + String.join("; ", wrong);
    }

    /** A probe file's name no scenario writes (write-data takes plain names; this one starts with a dot). */
    private Path probeFile(Path dir) {
      return dir.resolve(".simulator-probe-" + Long.toHexString(random.nextLong()));
    }

    private String readOnlyProblem(Path dir) throws StepError {
      List<String> wrong = new ArrayList<>();
      MountInfo m = MountTable.read().at(dir).orElse(null);
      if (m != null && !m.readOnly()) {
        wrong.add("mounted read-write (options " + String.join(",", m.mountOptions()) + ")");
      }
      Path probe = probeFile(dir);
      try {
        Files.createFile(probe);
        Files.delete(probe);
        wrong.add("a new file could be written there (expected EROFS, a read-only file system)");
      } catch (FileSystemException e) {
        if (e.getReason() == null || !e.getReason().contains("Read-only file system")) {
          wrong.add("making a file there failed, but not as read-only (" + e.getMessage() + ")");
        }
      } catch (IOException e) {
        throw new StepError("cannot probe " + dir + ": " + e.getMessage());
      }
      return wrong.isEmpty() ? null : String.join(", ", wrong);
    }

    private String writableProblem(Path dir) {
      Path probe = probeFile(dir);
      try {
        Files.createFile(probe);
        Files.delete(probe);
        return null;
      } catch (IOException e) {
        return "a new file cannot be written there: " + e.getMessage();
      }
    }

    /** Entries of the volume (at most a few named) whose group is not {@code gid}; the root must be group-writable. */
    private String groupProblem(Path dir, long gid) throws StepError {
      List<String> wrong = new ArrayList<>();
      long[] count = {0};
      try {
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0020) == 0) {
          wrong.add("its root is not group-writable (mode " + Integer.toOctalString(mode & 07777) + ")");
        }
        try (Stream<Path> all = Files.walk(dir)) { // Files.walk does not follow links
          for (Path p : (Iterable<Path>) all::iterator) {
            count[0]++;
            long g = ((Number) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS)).longValue();
            if (g != gid) {
              if (wrong.size() < 5) {
                wrong.add((p.equals(dir) ? "its root" : dir.relativize(p).toString()) + " has group " + g);
              } else {
                wrong.add("...");
                break;
              }
            }
          }
        }
      } catch (IOException | UncheckedIOException e) {
        throw new StepError("cannot read the groups in " + dir + ": " + e.getMessage());
      }
      return wrong.isEmpty() ? null : "expected group " + gid + " on all " + count[0] + " entries: " + String.join(", ", wrong);
    }

    private String orderAssertion(Step.AssertOrder o) {
      List<String> seen = trace.calls().stream().filter(c -> !c.probe() && c.ok() && o.methods().contains(c.method()))
          .filter(c -> o.volume() == null || o.volume().equals(c.volumeId()))
          .sorted(Comparator.comparingLong(CsiCall::seq)).map(CsiCall::method).toList();
      return seen.equals(o.methods()) ? null : "the calls answered OK were, in order: " + (seen.isEmpty() ? "none" : String.join(", ", seen));
    }

    /** Null once the pod's status mentions the text; else, after the timeout, what it shows. */
    private String waitReason(Step.WaitReason w) throws StepError {
      String[] ref = w.pod().split("/");
      long deadline = System.nanoTime() + w.timeout().toNanos();
      String shown = "the pod is not on the node";
      while (true) {
        PodStatus pod = agent().pod(ref[0], ref[1]).orElse(null);
        if (pod != null) {
          shown = reasons(pod);
          if (shown.contains(w.text())) {
            return null;
          }
        }
        if (System.nanoTime() > deadline) {
          return "pod " + w.pod() + " did not show \"" + w.text() + "\" within " + w.timeout().toMillis() + " ms; it shows: " + shown;
        }
        poll();
      }
    }

    private String reasons(PodStatus pod) {
      List<String> parts = new ArrayList<>(pod.errors());
      parts.addAll(pod.waiting());
      pod.volumes().forEach(v -> parts.add(v.name() + " is " + v.state() + (v.lastError() == null ? "" : " (" + v.lastError() + ")")));
      return (pod.ready() ? "ready; " : "not ready; ") + String.join("; ", parts);
    }

    /** The provisioner has no event for its volumes: asked until the state holds or the timeout passes. */
    private String waitProvisioned(Step.WaitProvisioned w) throws StepError {
      long deadline = System.nanoTime() + w.timeout().toNanos();
      boolean bound = w.state().equals("bound");
      while (true) {
        List<ProvisioningStatus.ProvisionedVolume> of = agent().volumeManager().provisioning().volumes().stream()
            .filter(v -> w.claim().equals(v.claim())).toList();
        if (bound ? of.stream().anyMatch(v -> "Bound".equals(v.phase())) : of.isEmpty()) {
          return null;
        }
        if (System.nanoTime() > deadline) {
          return "no PersistentVolume " + (bound ? "Bound to" : "of") + " claim " + w.claim() + (bound ? "" : " should be left")
              + " after " + w.timeout().toMillis() + " ms; the provisioner has: " + of.stream().map(v -> v.name() + " " + v.phase()
              + (v.reason() == null ? "" : " (" + v.reason() + ")") + (v.lastError() == null ? "" : ", last error: " + v.lastError()))
              .toList() + (bound ? "; claims being provisioned: " + agent().volumeManager().provisioning().claims() : "");
        }
        poll();
      }
    }

    private void poll() throws StepError {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new StepError("interrupted");
      }
    }

    // ---- batches and churn

    /** The pod keys ({@code namespace/name}) and all objects' (kind, namespace, name) one copy of a template makes. */
    private List<HasMetadata> objects(String text) throws StepError {
      ManifestParser.Result parsed = ManifestParser.parse(Path.of(scenario.origin()), text);
      if (!parsed.errors().isEmpty()) {
        throw new StepError("the objects do not parse: " + String.join("; ", parsed.errors()));
      }
      return parsed.objects();
    }

    private List<String> podKeys(List<HasMetadata> objects) {
      return objects.stream().filter(o -> "Pod".equals(o.getKind())).map(ClusterObjects::key).toList();
    }

    private void batch(ScenarioStep s, Step.Pods p) throws StepError {
      String label = s.label();
      List<String> pods = new ArrayList<>();
      List<String> texts = new ArrayList<>();
      for (int i = 0; i < p.count(); i++) {
        String text = ManifestTemplate.render(p.template(), harness.driverName(), i);
        pods.addAll(podKeys(objects(text)));
        texts.add(text);
      }
      Latencies ready = new Latencies();
      long t0 = System.nanoTime();
      apply(String.join("\n---\n", texts));
      Agent agent = agent();
      List<Future<PodStatus>> waits = new ArrayList<>();
      AtomicReference<String> firstFailure = new AtomicReference<>();
      for (String key : pods) {
        String[] ref = key.split("/");
        waits.add(agent.waitReady(ref[0], ref[1], p.timeout()).onComplete(ar -> {
          if (ar.succeeded()) {
            ready.add((System.nanoTime() - t0) / 1_000_000);
            remember(ar.result());
          } else {
            firstFailure.compareAndSet(null, ar.cause().getMessage());
          }
        }));
      }
      try {
        await(Future.join(waits), p.timeout().plus(MARGIN), "the batch");
      } catch (StepError e) {
        // each wait's failure is counted below
      }
      long allMs = (System.nanoTime() - t0) / 1_000_000;
      String prefix = label + ": ";
      figures.put(prefix + "pods", Integer.toString(pods.size()));
      figures.put(prefix + "ready", Integer.toString(ready.count()));
      figures.put(prefix + "time to all ready", Latencies.ms(allMs));
      figures.put(prefix + "throughput", Latencies.rate(ready.count() * 1000.0 / Math.max(1, allMs)));
      percentiles(prefix + "ready latency", ready, false);
      int missing = pods.size() - ready.count();
      check(label + " " + pods.size() + " pods ready", missing == 0 ? null
          : missing + " of " + pods.size() + " pods not ready within " + p.timeout().toMillis() + " ms; first: " + firstFailure.get(), t0);
    }

    private void churn(ScenarioStep s, Step.Churn c) throws StepError {
      int n = (int) Math.max(1, Math.round(c.rate() * c.seconds()));
      String driver = harness.driverName();
      List<List<HasMetadata>> copies = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        List<HasMetadata> objects = objects(ManifestTemplate.render(c.template(), driver, i));
        if (podKeys(objects).isEmpty()) {
          throw new StepError("copy " + i + " of the template makes no Pod");
        }
        copies.add(objects);
      }
      Agent agent = agent();
      Latencies ready = new Latencies();
      Latencies teardownMs = new Latencies();
      AtomicReference<String> firstFailure = new AtomicReference<>();
      long t0 = System.nanoTime();
      long[] lastReady = {t0};
      List<Future<Void>> lives = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int index = i;
        long at = Math.round(i * 1000.0 / c.rate());
        Promise<Void> life = Promise.promise();
        lives.add(life.future());
        Runnable begin = () -> life(agent, c, ManifestTemplate.render(c.template(), driver, index), copies.get(index), ready,
            teardownMs, lastReady).onComplete(ar -> {
              if (ar.failed()) {
                firstFailure.compareAndSet(null, ar.cause().getMessage());
              }
              life.tryComplete();
            });
        if (at == 0) {
          vertx.runOnContext(v -> begin.run());
        } else {
          vertx.setTimer(at, t -> begin.run());
        }
      }
      Duration bound = Duration.ofMillis(Math.round(c.seconds() * 1000)).plus(c.timeout()).plus(c.lifetime()).plus(c.timeout()).plus(MARGIN);
      try {
        await(Future.join(lives), bound, "the churn");
      } catch (StepError e) {
        firstFailure.compareAndSet(null, e.getMessage());
      }
      long spanMs;
      synchronized (lastReady) {
        spanMs = (lastReady[0] - t0) / 1_000_000;
      }
      String prefix = s.label() + ": ";
      figures.put(prefix + "pods", Integer.toString(n));
      figures.put(prefix + "ready", Integer.toString(ready.count()));
      figures.put(prefix + "torn down", Integer.toString(teardownMs.count()));
      figures.put(prefix + "asked rate", Latencies.rate(c.rate()));
      figures.put(prefix + "achieved rate", Latencies.rate(ready.count() * 1000.0 / Math.max(1, spanMs)));
      percentiles(prefix + "ready latency", ready, true);
      percentiles(prefix + "teardown latency", teardownMs, true);
      int failed = n - teardownMs.count();
      check(s.label() + " " + n + " pods created, ready and torn down", failed == 0 ? null
          : failed + " of " + n + " pods did not complete their life; first: " + firstFailure.get(), t0);
    }

    /** One churned pod: applied, ready, kept {@code lifetime}, deleted (and what else its copy made), gone. */
    private Future<Void> life(Agent agent, Step.Churn c, String text, List<HasMetadata> objects, Latencies ready,
                              Latencies teardownMs, long[] lastReady) {
      String key = podKeys(objects).get(0);
      String[] ref = key.split("/");
      long created = System.nanoTime();
      long[] deleting = new long[1];
      return agent.apply(text)
          .compose(r -> r.errors().isEmpty() ? agent.waitReady(ref[0], ref[1], c.timeout())
              : Future.failedFuture("the agent refused objects: " + String.join("; ", r.errors())))
          .compose(status -> {
            long now = System.nanoTime();
            ready.add((now - created) / 1_000_000);
            synchronized (lastReady) {
              lastReady[0] = Math.max(lastReady[0], now);
            }
            TeardownWatch.Known k = knownOf(status);
            Promise<Void> kept = Promise.promise();
            if (c.lifetime().isZero()) {
              kept.complete();
            } else {
              vertx.setTimer(c.lifetime().toMillis(), t -> kept.complete());
            }
            return kept.future().compose(v -> {
              deleting[0] = System.nanoTime();
              return agent.deletePod(ref[0], ref[1]);
            }).compose(v -> teardown.whenGone(agent, key, k, c.timeout()));
          })
          .compose(v -> {
            teardownMs.add((System.nanoTime() - deleting[0]) / 1_000_000);
            List<Future<Boolean>> rest = objects.stream().filter(o -> !"Pod".equals(o.getKind()))
                .map(o -> agent.deleteObject(o.getKind(), ClusterObjects.namespaceOf(o), o.getMetadata().getName())).toList();
            return Future.join(rest).mapEmpty();
          });
    }

    private void percentiles(String prefix, Latencies l, boolean max) {
      figures.put(prefix + " p50", Latencies.ms(l.percentile(50)));
      figures.put(prefix + " p90", Latencies.ms(l.percentile(90)));
      figures.put(prefix + " p99", Latencies.ms(l.percentile(99)));
      if (max) {
        figures.put(prefix + " max", Latencies.ms(l.percentile(100)));
      }
    }

    // ---- assertions

    private String describe(Step.Assert a) {
      if (a.pod() != null) {
        return "pod " + a.pod() + (a.ready() ? " ready" : " not ready") + (a.message() == null ? "" : " saying \"" + a.message() + "\"");
      }
      if (a.volumes() != null) {
        return "volumes" + (a.volumes().staged() == null ? "" : " staged=" + a.volumes().staged())
            + (a.volumes().published() == null ? "" : " published=" + a.volumes().published());
      }
      if (a.metric() != null) {
        return "metric " + a.metric().name() + (a.metric().labels().isEmpty() ? "" : new TreeMap<>(a.metric().labels())) + bounds(a.metric().min(),
            a.metric().max(), a.metric().equals());
      }
      Step.CallsAssert c = a.calls();
      return "calls " + c.method() + (c.code() == null ? "" : " " + c.code()) + (c.volume() == null ? "" : " on " + c.volume())
          + bounds(c.min() == null ? null : c.min().doubleValue(), c.max() == null ? null : c.max().doubleValue(),
          c.count() == null ? null : c.count().doubleValue());
    }

    private String bounds(Double min, Double max, Double equals) {
      return equals != null ? " = " + number(equals) : (min != null ? " >= " + number(min) : "") + (max != null ? " <= " + number(max) : "");
    }

    /** Null when the assertion holds, else what was found. */
    private String assertion(Step.Assert a) {
      if (a.pod() != null) {
        String[] ref = a.pod().split("/");
        PodStatus pod = agent().pod(ref[0], ref[1]).orElse(null);
        if (pod == null) {
          return "pod " + a.pod() + " is not on the node (no source has it)";
        }
        remember(pod);
        if (pod.ready() == a.ready()) {
          return podMessageAssertion(a, pod);
        }
        return pod.ready() ? "pod " + a.pod() + " is ready" : "pod " + a.pod() + " is not ready: " + podMessage(pod);
      }
      if (a.volumes() != null) {
        Reconciler.Snapshot s = agent().volumeManager().view().snapshot();
        long staged = s.actual().stream().filter(v -> v.device() == DeviceState.MOUNTED).count();
        long published = s.actual().stream().mapToLong(v -> v.pods().stream().filter(p -> p.state() == MountState.MOUNTED).count()).sum();
        List<String> wrong = new ArrayList<>();
        if (a.volumes().staged() != null && a.volumes().staged() != staged) {
          wrong.add(staged + " staged, expected " + a.volumes().staged());
        }
        if (a.volumes().published() != null && a.volumes().published() != published) {
          wrong.add(published + " published, expected " + a.volumes().published());
        }
        return wrong.isEmpty() ? null : String.join(", ", wrong) + "; volumes: " + agent().volumeManager().volumes().stream()
            .map(v -> v.uniqueName() + " " + v.state() + " for " + v.publishedFor()).toList();
      }
      if (a.metric() != null) {
        return metricAssertion(a.metric());
      }
      Step.CallsAssert c = a.calls();
      List<CsiCall> calls = trace.calls().stream().filter(x -> !x.probe() && x.method().equals(c.method()))
          .filter(x -> c.code() == null || c.code().equals(x.code()))
          .filter(x -> c.volume() == null || c.volume().equals(x.volumeId())).toList();
      long n = calls.size();
      boolean holds = c.count() != null ? n == c.count() : (c.min() == null || n >= c.min()) && (c.max() == null || n <= c.max());
      if (holds) {
        return null;
      }
      Map<String, Long> byCode = trace.calls().stream().filter(x -> !x.probe() && x.method().equals(c.method()))
          .collect(Collectors.groupingBy(x -> String.valueOf(x.code()), LinkedHashMap::new, Collectors.counting()));
      return n + " matching call(s)" + "; " + c.method() + " calls by code: " + byCode;
    }

    /**
     * The pod's status message as the agent reports it (its status's volumes, errors and waiting lines): each volume
     * not published with its state and last error, then the pod's errors and what it waits for.
     */
    private String podMessage(PodStatus pod) {
      return pod.volumes().stream()
          .filter(v -> !v.state().equals("published"))
          .map(v -> v.name() + " is " + v.state() + (v.lastError() == null ? "" : " (" + v.lastError() + ")"))
          .collect(Collectors.joining("; ")) + (pod.errors().isEmpty() ? "" : " errors: " + pod.errors())
          + (pod.waiting().isEmpty() ? "" : " waiting: " + pod.waiting());
    }

    /** Null when the assertion gives no message or the pod's message contains it, else what the message is. */
    private String podMessageAssertion(Step.Assert a, PodStatus pod) {
      if (a.message() == null) {
        return null;
      }
      String message = podMessage(pod);
      return message.contains(a.message()) ? null
          : "the status message of pod " + a.pod() + " does not contain \"" + a.message() + "\": " + (message.isEmpty() ? "(none)" : message);
    }

    // ---- wait-calls

    private String describe(Step.WaitCalls w) {
      return w.method() + (Boolean.TRUE.equals(w.inFlight()) ? " in flight" : w.code() == null ? "" : " " + w.code())
          + (w.volume() == null ? "" : " on " + w.volume()) + (w.min() > 1 ? " >= " + w.min() : "");
    }

    /**
     * Null once the node has made {@code min} matching calls (probes excluded), or, with {@code inFlight}, once such
     * a call waits at the proxy for its answer; else, at the timeout, what was found. The trace and the proxy's
     * in-flight calls are looked at every {@link #CALLS_POLL}: they are appended to on the proxy's event loops.
     */
    private String waitCalls(Step.WaitCalls w) throws StepError {
      long deadline = System.nanoTime() + w.timeout().toNanos();
      while (true) {
        FaultProxy proxy = harness.proxy();
        List<CsiCall> pool = Boolean.TRUE.equals(w.inFlight()) ? (proxy == null ? List.of() : proxy.inFlight()) : trace.calls();
        long n = pool.stream().filter(c -> !c.probe() && c.method().equals(w.method()))
            .filter(c -> w.code() == null || w.code().equals(c.code()))
            .filter(c -> w.volume() == null || w.volume().equals(c.volumeId())).count();
        if (n >= w.min()) {
          return null;
        }
        if (System.nanoTime() > deadline) {
          Map<String, Long> byCode = trace.calls().stream().filter(x -> !x.probe() && x.method().equals(w.method()))
              .collect(Collectors.groupingBy(x -> String.valueOf(x.code()), LinkedHashMap::new, Collectors.counting()));
          long waiting = proxy == null ? 0 : proxy.inFlight().stream().filter(c -> c.method().equals(w.method())).count();
          return n + " matching call(s) within " + w.timeout().toMillis() + " ms, " + w.min() + " wanted; " + w.method()
              + " calls by code: " + byCode + ", in flight: " + waiting;
        }
        try {
          Thread.sleep(CALLS_POLL.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new StepError("interrupted while waiting for " + w.method() + " calls");
        }
      }
    }

    private String metricAssertion(Step.MetricAssert m) {
      List<MetricSnapshot> snapshots = agent().metrics().scrape().stream().toList();
      double sum = 0;
      int series = 0;
      boolean named = false;
      for (MetricSnapshot snap : snapshots) {
        String base = snap.getMetadata().getPrometheusName();
        String part = part(snap, base, m.name());
        if (part == null) {
          continue;
        }
        named = true;
        for (DataPointSnapshot p : snap.getDataPoints()) {
          if (m.labels().entrySet().stream().allMatch(e -> e.getValue().equals(p.getLabels().get(e.getKey())))) {
            sum += value(p, part);
            series++;
          }
        }
      }
      if (!named) {
        return "the agent has no metric " + m.name() + "; it has " + snapshots.stream().map(x -> x.getMetadata().getPrometheusName())
            .sorted().toList();
      }
      boolean holds = m.equals() != null ? sum == m.equals() : (m.min() == null || sum >= m.min()) && (m.max() == null || sum <= m.max());
      return holds ? null : "the value is " + number(sum) + " (" + series + " series with the labels " + new TreeMap<>(m.labels()) + ")";
    }

    /** Which part of the metric the name asks for ("value", "count", "sum"), or null when it is another metric. */
    private String part(MetricSnapshot snap, String base, String name) {
      if (snap instanceof CounterSnapshot) {
        return name.equals(base) || name.equals(base + "_total") ? "value" : null;
      }
      if (snap instanceof GaugeSnapshot) {
        return name.equals(base) ? "value" : null;
      }
      if (snap instanceof HistogramSnapshot || snap instanceof SummarySnapshot) {
        return name.equals(base + "_count") || name.equals(base) ? "count" : name.equals(base + "_sum") ? "sum" : null;
      }
      return null;
    }

    private double value(DataPointSnapshot p, String part) {
      if (p instanceof CounterSnapshot.CounterDataPointSnapshot c) {
        return c.getValue();
      }
      if (p instanceof GaugeSnapshot.GaugeDataPointSnapshot g) {
        return g.getValue();
      }
      if (p instanceof HistogramSnapshot.HistogramDataPointSnapshot h) {
        return part.equals("sum") ? h.getSum() : h.getCount();
      }
      if (p instanceof SummarySnapshot.SummaryDataPointSnapshot q) {
        return part.equals("sum") ? q.getSum() : q.getCount();
      }
      return 0;
    }

    private String number(double d) {
      return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : String.format(Locale.ROOT, "%g", d);
    }

    private void check(String name, String failure, long t0) {
      if (failure != null) {
        LOG.warn("scenario {}: {} failed: {}", scenario.name(), name, failure);
      }
      checks.add(new Check(name, Check.Kind.ASSERTION, failure, List.of(), (System.nanoTime() - t0) / 1_000_000));
    }

    // ---- what the run learns of pods (for wait-gone)

    private void remember(String podKey) {
      String[] ref = podKey.split("/");
      agent().pod(ref[0], ref[1]).ifPresent(this::remember);
    }

    private void remember(PodStatus status) {
      known.put(status.pod(), knownOf(status));
    }

    private TeardownWatch.Known knownOf(PodStatus status) {
      return new TeardownWatch.Known(status.uid(), status.volumes().stream().map(PodVolume::uniqueName)
          .collect(Collectors.toUnmodifiableSet()));
    }

    // ---- the end: settle, end state, invariants, cleanup

    private void endOfRun() {
      try {
        await(agent().volumeManager().idle(SETTLE_TIMEOUT), SETTLE_TIMEOUT.plus(MARGIN), "settling");
      } catch (StepError e) {
        LOG.warn("scenario {}: the node did not settle: {}", scenario.name(), e.getMessage());
      }
      EndState end = endState();
      List<CsiCall> calls = withInFlight();
      boolean stageUnstage = harness.stageUnstage();
      for (Invariant inv : Invariants.all()) {
        long t0 = System.nanoTime();
        List<Violation> violations;
        String failure = null;
        try {
          violations = inv.check(calls, end, stageUnstage);
        } catch (RuntimeException e) {
          violations = List.of();
          failure = "the check itself failed: " + e;
        }
        checks.add(new Check("invariant " + inv.name(), Check.Kind.INVARIANT, failure, violations, (System.nanoTime() - t0) / 1_000_000));
      }
    }

    /**
     * The finished calls and those the node still waits for (a hung call is judged too, as uncertain). In flight
     * first: a call that finishes between the two reads is then in both, and its finished record is kept.
     */
    private List<CsiCall> withInFlight() {
      List<CsiCall> waiting = harness.proxy() == null ? List.of() : harness.proxy().inFlight();
      Map<Long, CsiCall> bySeq = new TreeMap<>();
      waiting.forEach(c -> bySeq.put(c.seq(), c));
      trace.calls().forEach(c -> bySeq.put(c.seq(), c));
      return List.copyOf(bySeq.values());
    }

    private EndState endState() {
      List<Path> mounted = mountsUnder(mounts.table(), rootDir);
      Reconciler.Snapshot s = agent().volumeManager().view().snapshot();
      Set<Path> wanted = new LinkedHashSet<>();
      for (PodVolumes pv : s.desired().pods().values()) {
        for (String unique : pv.uniqueNames()) {
          VolumeView v = s.actualByName().get(unique);
          if (v == null) {
            continue;
          }
          if (v.stagingPath() != null) {
            wanted.add(Path.of(v.stagingPath()));
          }
          for (MountedPod p : v.pods()) {
            if (p.podUid().equals(pv.podUid()) && p.targetPath() != null) {
              wanted.add(Path.of(p.targetPath()));
            }
          }
        }
      }
      for (PodStatus pod : agent().volumeManager().pods()) {
        for (PodVolume v : pod.volumes()) {
          if (v.hostPath() != null) {
            wanted.add(Path.of(v.hostPath()));
          }
        }
      }
      return new EndState(rootDir, mounted, wanted, dataChecks);
    }

    private List<Path> mountsUnder(MountTable table, Path dir) {
      return table.under(dir).stream().map(MountInfo::mountPoint).map(Path::of).distinct().toList();
    }

    /**
     * Deletes every object the run made, waits for the teardown, stops driver and node; then removes anything left
     * mounted beneath the run's directory or a loop device backed there, and reports it as a failed check. Returns
     * an error when the run's own machinery could not be stopped.
     */
    private String cleanUp() {
      List<String> problems = new ArrayList<>();
      if (node != null) {
        try {
          Agent agent = agent();
          ClusterObjects objects = agent.volumeManager().objects();
          // All at once: one by one, each delete waits for its record to be written.
          await(Future.join(objects.pods().keySet().stream().map(key -> agent.deletePod(key.split("/")[0], key.split("/")[1]))
              .toList()), ACTION_TIMEOUT, "deleting the pods");
          await(teardown.whenNothingMounted(agent, options.teardownTimeout()), options.teardownTimeout().plus(MARGIN), "the teardown");
          await(Future.join(objects.claims().keySet().stream()
              .map(key -> agent.deleteObject("PersistentVolumeClaim", key.split("/")[0], key.split("/")[1])).toList()),
              ACTION_TIMEOUT, "deleting the claims");
          await(agent.volumeManager().idle(SETTLE_TIMEOUT), SETTLE_TIMEOUT.plus(MARGIN), "deleting the provisioned volumes");
          provisionedVolumesGone(agent);
        } catch (StepError | RuntimeException e) {
          problems.add("teardown: " + e.getMessage());
        }
      }
      String error = null;
      try {
        if (harness != null) {
          await(harness.stop(), ACTION_TIMEOUT, "stopping the driver");
        }
        if (node != null) {
          await(node.stop(), ACTION_TIMEOUT, "stopping the node");
        }
      } catch (StepError | RuntimeException e) {
        error = "cleanup: " + e.getMessage();
      }
      if (vertx != null) {
        vertx.close();
      }
      problems.addAll(leftovers());
      if (node != null && (!problems.isEmpty())) {
        checks.add(new Check("cleanup leaves nothing behind", Check.Kind.INVARIANT, String.join("; ", problems), List.of(), 0));
      }
      return error;
    }

    /**
     * The driver stays until the run's provisioned volumes with reclaimPolicy Delete are deleted: idle() does not
     * cover a DeleteVolume waiting between retries, and a driver stopped under it keeps the volume (an external
     * driver for good). Bounded by the teardown timeout; the provisioner has no event for it, so it is asked.
     */
    private void provisionedVolumesGone(Agent agent) throws StepError {
      long deadline = System.nanoTime() + options.teardownTimeout().toNanos();
      while (true) {
        List<String> left = agent.volumeManager().provisioning().volumes().stream()
            .filter(v -> "Delete".equals(v.reclaimPolicy())).map(v -> v.name()).toList();
        if (left.isEmpty()) {
          return;
        }
        if (System.nanoTime() > deadline) {
          throw new StepError("provisioned volumes not deleted within " + options.teardownTimeout().toSeconds() + " s: " + left);
        }
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new StepError("interrupted while waiting for the provisioned volumes to be deleted");
        }
      }
    }

    /** See {@link ScenarioRunner#abort}. */
    void abort() {
      LOG.warn("scenario {}: aborted; killing the driver, removing the run's mounts and loop devices", scenario.name());
      DriverHarness h = harness;
      if (h != null) {
        try {
          await(h.stop(), ABORT_STEP, "stopping the driver");
        } catch (StepError | RuntimeException e) {
          LOG.warn("scenario {}: {}", scenario.name(), e.getMessage());
        }
      }
      for (String left : leftovers()) {
        LOG.warn("scenario {}: {}", scenario.name(), left);
      }
      SimulatedNode n = node;
      if (n != null) {
        try {
          await(n.stop(), ABORT_STEP, "stopping the node");
        } catch (StepError | RuntimeException e) {
          LOG.warn("scenario {}: {}", scenario.name(), e.getMessage());
        }
      }
    }

    /** Mounts and loop devices the run left, removed; each named. */
    private List<String> leftovers() {
      List<String> found = new ArrayList<>();
      if (simulatedMounts != null) {
        for (Path p : mountsUnder(simulatedMounts.table(), rootDir)) {
          found.add("still mounted (simulated): " + p);
        }
        return found;
      }
      if (mounts == null) {
        return found;
      }
      Mounter mounter = new Mounter();
      List<Path> left = new ArrayList<>(mountsUnder(MountTable.read(), runDir));
      left.sort(Comparator.comparingInt(Path::getNameCount).reversed()); // the deepest first
      for (Path p : left) {
        try {
          mounter.unmountAll(p);
          found.add("still mounted, unmounted by the simulator: " + p);
        } catch (RuntimeException e) {
          found.add("still mounted and cannot be unmounted: " + p + " (" + e.getMessage() + "); remove it by hand");
        }
      }
      try {
        LoopDevices loops = new LoopDevices();
        for (String line : LoopDevices.list()) {
          String[] parts = line.split("\\s+", 2);
          if (parts.length == 2 && parts[1].startsWith(runDir + "/") && !loopsBefore.contains(line)) {
            loops.detach(parts[0]);
            found.add("loop device " + parts[0] + " still backed by " + parts[1] + ", detached by the simulator");
          }
        }
      } catch (RuntimeException e) {
        found.add("cannot list loop devices: " + e.getMessage());
      }
      return found;
    }
  }

  /** Waits for the future on this (non event-loop) thread; a StepError saying what did not finish or why it failed. */
  private static <T> T await(Future<T> f, Duration timeout, String what) throws StepError {
    try {
      return f.toCompletionStage().toCompletableFuture().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new StepError(what + " did not finish within " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new StepError(what.equals("the wait") ? String.valueOf(cause.getMessage()) : what + " failed: " + cause.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new StepError(what + " was interrupted");
    }
  }

  private static void requireRoot() throws StepError {
    Object uid;
    try {
      uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    } catch (IOException | UnsupportedOperationException e) {
      throw new StepError("cannot tell whether this process runs as root: " + e.getMessage());
    }
    if (!Integer.valueOf(0).equals(uid)) {
      throw new StepError("real mounts need root (this process runs as uid " + uid + "); run as root, or give the scenario "
          + "the in-memory driver (driver: {inMemory: {}} or --in-memory-driver)");
    }
  }
}
