package dev.csinode.cli;

import dev.csinode.agent.Agent;
import dev.csinode.agent.NodeVertx;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.systemd.EventLoopProbe;
import dev.csinode.agent.systemd.NotifySocket;
import dev.csinode.agent.systemd.ServiceNotifier;
import dev.csinode.agent.systemd.ServiceStatus;
import dev.csinode.plugins.PluginManager;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.logging.LogFormat;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.util.GoDuration;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/** {@code csi-node-agent run}: the agent, until SIGTERM or SIGINT. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Run the node agent: discover CSI drivers through <root-dir>/plugins_registry and serve the local API.")
public final class RunCommand implements Callable<Integer> {
  @Option(names = "--config", paramLabel = "FILE",
      description = "Read options from this YAML file (keys are these flags without the dashes, plus log-level and "
          + "log-levels); a flag given on the command line wins. See: csi-node-agent config check FILE.")
  Path configFile;

  @Option(names = "--root-dir", defaultValue = "/var/lib/kubelet", paramLabel = "DIR",
      description = "Kubelet-style root directory, where drivers and registrars expect it (default: ${DEFAULT-VALUE}).")
  Path rootDir;

  @Option(names = "--node-name", paramLabel = "NAME", description = "This node's name (default: the host name).")
  String nodeName;

  @Option(names = "--api-socket", paramLabel = "PATH", description = "Local API socket (default: <root-dir>/csi-node-agent.sock).")
  Path apiSocket;

  @Option(names = "--with-hostpath-driver", negatable = true,
      description = "Also run the bundled hostpath driver at <root-dir>/plugins/hostpath.csinode.dev/csi.sock, registered like any driver.")
  boolean withHostpathDriver;

  @Option(names = "--pod-manifests", paramLabel = "DIR",
      description = "Directory of Kubernetes manifests (Pod, PersistentVolume, PersistentVolumeClaim, StorageClass, CSIDriver, "
          + "Secret; YAML or JSON), watched for changes, like the kubelet's static pod path.")
  Path podManifests;

  @Option(names = "--metrics-address", defaultValue = Agent.Config.DEFAULT_METRICS_ADDRESS, paramLabel = "HOST:PORT",
      description = "Prometheus metrics at http://HOST:PORT/metrics; empty to disable (default: ${DEFAULT-VALUE}).")
  String metricsAddress;

  @Option(names = "--drain-on-exit", negatable = true,
      description = "On SIGTERM, unpublish and unstage every volume before exiting (by default volumes stay mounted, as with the kubelet).")
  boolean drainOnExit;

  @Option(names = "--api-max-body-size", defaultValue = "4Mi", converter = ByteSize.class, paramLabel = "BYTES",
      description = "Largest request body the local API reads (e.g. a manifest for POST /v1/objects); a larger one is refused "
          + "with 413 without being read (default: ${DEFAULT-VALUE}).")
  long apiMaxBodySize;

  @Option(names = "--probe-interval", defaultValue = "10s", converter = DurationOption.class, paramLabel = "DURATION",
      description = "How often registered drivers are probed (default: ${DEFAULT-VALUE}).")
  Duration probeInterval;

  @Option(names = "--max-parallel-operations", defaultValue = "64", paramLabel = "N",
      description = "Volume operations (stage+publish, unpublish, unstage) running at once; each volume has at most one (default: ${DEFAULT-VALUE}).")
  int maxParallelOperations;

  @Option(names = "--backoff-initial", defaultValue = "500ms", converter = DurationOption.class, paramLabel = "DURATION",
      description = "Wait after a failed volume operation before the same one is tried again; doubles per failure (default: ${DEFAULT-VALUE}).")
  Duration backoffInitial;

  @Option(names = "--backoff-max", defaultValue = "2m2s", converter = DurationOption.class, paramLabel = "DURATION",
      description = "Longest wait between attempts of a failing volume operation (default: ${DEFAULT-VALUE}, the kubelet's).")
  Duration backoffMax;

  @Option(names = "--resync-period", defaultValue = "10s", converter = DurationOption.class, paramLabel = "DURATION",
      description = "How often mounts are checked against the actual state (a vanished publish mount is restored), mounts the "
          + "agent did not make are reported, and orphaned pod directories are cleaned up (default: ${DEFAULT-VALUE}).")
  Duration resyncPeriod;

  @Option(names = "--csi-timeout", defaultValue = "2m", converter = DurationOption.class, paramLabel = "DURATION",
      description = "Deadline of each CSI call; a call that runs out leaves its volume uncertain (default: ${DEFAULT-VALUE}).")
  Duration csiTimeout;

  @Option(names = "--volume-stats-period", defaultValue = "1m", converter = DurationOption.class, paramLabel = "DURATION",
      description = "How often NodeGetVolumeStats is asked for published claims, for kubelet_volume_stats_* (default: ${DEFAULT-VALUE}).")
  Duration volumeStatsPeriod;

  @Option(names = "--remove-orphans", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Remove orphaned pod directories at each resync (only ever empty directories and the agent's own files, never "
          + "anything with a mount below); --no-remove-orphans only reports them (default: ${DEFAULT-VALUE}).")
  boolean removeOrphans;

  /**
   * Gives picocli the config file's values as the options' defaults, so that a flag on the command line wins. The file
   * is named by {@code --config} among the arguments, which picocli has not parsed yet when it asks for defaults; an
   * unreadable or invalid file gives no defaults here and stops {@link #call} with its message.
   */
  static final class ConfigDefaults implements IDefaultValueProvider {
    private final Path file;
    private final ConfigFile config;
    private final ConfigFile.InvalidConfigException error;

    private ConfigDefaults(Path file, ConfigFile config, ConfigFile.InvalidConfigException error) {
      this.file = file;
      this.config = config;
      this.error = error;
    }

    /** The defaults from the file {@code run --config FILE} names in {@code args}, or none. */
    static ConfigDefaults of(String[] args) {
      Path file = configArgument(args);
      if (file == null) {
        return new ConfigDefaults(null, null, null);
      }
      try {
        return new ConfigDefaults(file, ConfigFile.read(file), null);
      } catch (ConfigFile.InvalidConfigException e) {
        return new ConfigDefaults(file, null, e);
      }
    }

    /** The file as read for the defaults when it is {@code path} (its error, if it was unusable); else null. */
    ConfigFile readAs(Path path) throws ConfigFile.InvalidConfigException {
      if (file == null || !file.equals(path)) {
        return null;
      }
      if (error != null) {
        throw error;
      }
      return config;
    }

    private static Path configArgument(String[] args) {
      for (int i = 0; i < args.length; i++) {
        if (args[i].equals("--")) {
          return null;
        }
        if (args[i].equals("--config") && i + 1 < args.length) {
          return Path.of(args[i + 1]);
        }
        if (args[i].startsWith("--config=")) {
          return Path.of(args[i].substring("--config=".length()));
        }
      }
      return null;
    }

    @Override
    public String defaultValue(ArgSpec arg) {
      // Not for on/off flags: picocli's negated form means "the opposite of the default", so a default of true from
      // the file would turn --no-FLAG into true. call() applies the file's flags itself (fileFlags).
      if (config == null || !(arg instanceof OptionSpec o) || o.type() == boolean.class || o.type() == Boolean.class) {
        return null;
      }
      return config.defaultFor(o.longestName());
    }
  }

  @Option(names = "--log-format", paramLabel = "FORMAT",
      description = "text (readable lines; under systemd, <N>-prefixed lines journald keeps the levels of) or json (one "
          + "object per line, for log shippers). Default: text.")
  String logFormat;

  @Spec CommandSpec spec;

  /**
   * The config file (as read for the defaults, or read now), its log levels and on/off keys applied; null without
   * {@code --config}. An unusable file throws what made it so (its defaults were left out).
   */
  ConfigFile applyConfigFile() throws ConfigFile.InvalidConfigException {
    if (configFile == null) {
      return null;
    }
    ConfigFile file = spec.commandLine().getDefaultValueProvider() instanceof ConfigDefaults d ? d.readAs(configFile) : null;
    if (file == null) {
      file = ConfigFile.read(configFile);
    }
    LogLevels.apply(file.logLevels());
    fileFlags(file);
    return file;
  }

  /** The file's on/off keys, for the flags the command line does not give (on or off). */
  private void fileFlags(ConfigFile file) {
    for (OptionSpec o : spec.options()) {
      boolean flag = o.type() == boolean.class || o.type() == Boolean.class;
      String value = file.defaultFor(o.longestName());
      if (flag && value != null && !spec.commandLine().getParseResult().hasMatchedOption(o)) {
        o.setValue(Boolean.parseBoolean(value));
      }
    }
  }

  @Override
  public Integer call() throws Exception {
    // SIGHUP would end the JVM (its default), even while starting: from now on it asks for a reload, which is
    // carried out only while the agent is ready (before, or once stopping, it is logged and ignored).
    AtomicReference<ConfigReload> reloads = new AtomicReference<>();
    Signal.handle(new Signal("HUP"), sig -> {
      ConfigReload r = reloads.get();
      if (r == null) {
        // Looked up here, not held in a static field: picocli makes a RunCommand for every command (even --help), and
        // a logger made then would start logback for all of them.
        LoggerFactory.getLogger(RunCommand.class)
            .info("SIGHUP ignored: the agent is not ready (starting or stopping); send it again once it runs");
      } else {
        new Thread(r::reload, "reload").start();
      }
    });
    if (logFormat != null) {
      try {
        LogFormat.use(LogFormat.parse(logFormat));
      } catch (IllegalArgumentException e) {
        System.err.println("run: --log-format: " + TerminalText.text(e.getMessage()));
        return 2;
      }
    }
    ConfigFile file;
    try {
      file = applyConfigFile();
    } catch (ConfigFile.InvalidConfigException e) {
      System.err.println("run: " + TerminalText.text(e.getMessage()));
      return 2;
    }
    String node = nodeName != null ? nodeName : InetAddress.getLocalHost().getHostName();
    VolumeManager.Options volumeOptions;
    try {
      volumeOptions = new VolumeManager.Options(maxParallelOperations, backoffInitial, backoffMax, resyncPeriod, csiTimeout,
          volumeStatsPeriod, removeOrphans);
      if (probeInterval.isZero()) {
        throw new IllegalArgumentException("--probe-interval must be positive, not " + GoDuration.format(probeInterval));
      }
    } catch (IllegalArgumentException e) {
      System.err.println("run: " + TerminalText.text(e.getMessage()));
      return 2;
    }
    Agent.Config config = new Agent.Config(rootDir, node, apiSocket, withHostpathDriver ? BundledHostpathDriver.INSTANCE : null,
        PluginManager.Options.defaults().withProbeInterval(probeInterval), podManifests,
        volumeOptions, metricsAddress, drainOnExit, apiMaxBodySize);
    NotifySocket socket;
    Duration watchdog;
    try {
      socket = NotifySocket.fromEnvironment(System.getenv());
      watchdog = ServiceNotifier.watchdogInterval(System.getenv(), ProcessHandle.current().pid());
    } catch (IllegalArgumentException e) {
      System.err.println("run: " + TerminalText.text(e.getMessage()));
      return 2;
    }
    Vertx vertx = NodeVertx.create();
    Agent agent = new Agent(vertx, config);
    ServiceNotifier notifier = new ServiceNotifier(socket, () -> ServiceStatus.line(agent.drivers(), agent.volumeManager()),
        new EventLoopProbe(vertx), watchdog);
    Future<Agent> started = agent.start().recover(err -> agent.stop().transform(x -> Future.failedFuture(err)));
    // READY=1 only once the journal is reconstructed, the registration watcher is up (both in start) and the pod
    // sources have delivered: a unit ordered after this one finds the node's volumes being worked on.
    ConfigReload reload = new ConfigReload(configFile, spec, file, agent, notifier);
    started.compose(Agent::sourcesDelivered).onSuccess(v -> {
      notifier.ready();
      reloads.set(reload);
    });
    // STOPPING=1 goes out at once from the notifier's daemon thread, before the (maybe long, with drain-on-exit) stop.
    return Lifecycle.run(vertx, "run", started, a -> {
      reloads.set(null);
      notifier.stopping();
      return a.stop();
    }, null);
  }
}
