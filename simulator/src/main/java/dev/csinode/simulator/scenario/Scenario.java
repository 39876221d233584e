package dev.csinode.simulator.scenario;

import com.fasterxml.jackson.databind.annotation.JsonDeserialize;
import dev.csinode.agent.VolumeManager;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.proxy.FaultRule;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A scenario as read from its file: a timeline of steps played against one node and one driver.
 *
 * @param seed           the file's seed, or null (the run's seed then comes from the command line or is 1)
 * @param inMemoryDriver the in-memory driver's options when the scenario asks for it (simulated mounts, no root);
 *                       null: the bundled hostpath driver with real mounts
 * @param volumeManager  the volume manager's knobs the scenario changes
 * @param faults         the fault rules the steps may turn on, all off at the start
 * @param origin         where it was read from (a path, or {@code scenarios/NAME.yaml} in the jar), for messages
 * @param suite          which {@code check-driver} suite runs it
 * @param requires       what a driver must offer for the scenario to apply to it (check-driver skips it otherwise)
 * @param references     the issues it reproduces, e.g. {@code kubernetes/kubernetes#82190}
 * @param hints          for a failed check, what the CSI spec or the kubelet's behaviour says about it: keyed by an
 *                       invariant's name, a step's kind ({@code wait-ready}, {@code assert}, ...), or {@code cleanup}
 * @param hostpathDriver the bundled hostpath driver's settings when it is the driver under test by default; null: its
 *                       defaults (no volume limit, no attach)
 */
public record Scenario(String name, String description, Long seed, InMemoryDriver.Options inMemoryDriver,
                       Knobs volumeManager, List<FaultRule> faults, List<ScenarioStep> steps, String origin,
                       Suite suite, Requirements requires, List<String> references, Map<String, String> hints,
                       HostpathOptions hostpathDriver) {

  public Scenario(String name, String description, Long seed, InMemoryDriver.Options inMemoryDriver, Knobs volumeManager,
                  List<FaultRule> faults, List<ScenarioStep> steps, String origin) {
    this(name, description, seed, inMemoryDriver, volumeManager, faults, steps, origin, Suite.FULL, Requirements.NONE,
        List.of(), Map.of(), null);
  }

  /** The seed used when neither the command line nor the file gives one. */
  public static final long DEFAULT_SEED = 1;

  public Scenario {
    faults = List.copyOf(faults);
    steps = List.copyOf(steps);
    volumeManager = volumeManager == null ? new Knobs(null, null, null, null) : volumeManager;
    suite = suite == null ? Suite.FULL : suite;
    requires = requires == null ? Requirements.NONE : requires;
    references = references == null ? List.of() : List.copyOf(references);
    hints = hints == null ? Map.of() : Map.copyOf(hints);
  }

  /**
   * Which {@code check-driver --suite} runs a scenario: {@code basic} ones run in both suites, {@code full} ones only
   * in the full suite; {@code scale} ones (thousands of pods, minutes) only by {@code simulate}.
   */
  public enum Suite {
    BASIC, FULL, SCALE;

    @com.fasterxml.jackson.annotation.JsonValue
    public String text() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    @com.fasterxml.jackson.annotation.JsonCreator
    public static Suite parse(String text) {
      for (Suite s : values()) {
        if (s.text().equals(text)) {
          return s;
        }
      }
      throw new IllegalArgumentException("suite: '" + text + "' is not one of basic, full, scale");
    }
  }

  /**
   * What a driver must offer: capability names as the CSI protos spell them ({@code plugin}: PluginCapability
   * Service types such as CONTROLLER_SERVICE; {@code controller}: ControllerServiceCapability RPC types such as
   * CREATE_DELETE_VOLUME; {@code node}: NodeServiceCapability RPC types such as STAGE_UNSTAGE_VOLUME), and the
   * max_volumes_per_node its NodeGetInfo must report (null: any).
   */
  public record Requirements(List<String> plugin, List<String> controller, List<String> node, Long maxVolumesPerNode) {
    public static final Requirements NONE = new Requirements(List.of(), List.of(), List.of(), null);

    public Requirements {
      plugin = plugin == null ? List.of() : List.copyOf(plugin);
      controller = controller == null ? List.of() : List.copyOf(controller);
      node = node == null ? List.of() : List.copyOf(node);
    }
  }

  /** The bundled hostpath driver's settings a scenario needs (a volume limit, attach through ControllerPublish). */
  public record HostpathOptions(@JsonDeserialize(using = ScenarioParser.VolumeLimitDeserializer.class) Long maxVolumesPerNode,
                                Boolean attachRequired) {
    public HostpathOptions {
      if (maxVolumesPerNode != null && maxVolumesPerNode < 0) {
        throw new IllegalArgumentException("maxVolumesPerNode must be 0 (no limit) or more, not " + maxVolumesPerNode);
      }
    }

    /** The limit the bundled driver reports and enforces; 0: none. */
    public long maxVolumes() {
      return maxVolumesPerNode == null ? 0 : maxVolumesPerNode;
    }

    public boolean attach() {
      return Boolean.TRUE.equals(attachRequired);
    }
  }

  /** The scenario's {@code volumeManager:} section: Go durations; null keeps the agent's default. */
  public record Knobs(Duration backoffInitial, Duration backoffMax, Duration csiTimeout, Duration resyncInterval) {
    /** The agent's defaults with these in place; an IllegalArgumentException saying why when they do not fit together. */
    public VolumeManager.Options options() {
      VolumeManager.Options d = VolumeManager.Options.defaults();
      return new VolumeManager.Options(d.maxParallelOperations(), or(backoffInitial, d.backoffInitial()),
          or(backoffMax, d.backoffMax()), or(resyncInterval, d.resyncInterval()), or(csiTimeout, d.csiTimeout()),
          d.volumeStatsInterval(), d.removeOrphans());
    }

    private static Duration or(Duration value, Duration fallback) {
      return value == null ? fallback : value;
    }
  }

  /**
   * The {@code driver:} section; {@code inMemory}: the in-memory driver's options; {@code hostpath}: the bundled
   * driver's settings when it is the default driver under test.
   */
  record DriverSection(InMemoryDriver.Options inMemory, HostpathOptions hostpath) {}

  /** The file as Jackson binds it, before it is checked. */
  record File(String name, String description, Long seed, Suite suite, Requirements requires, List<String> references,
              Map<String, String> hints, DriverSection driver, Knobs volumeManager, List<FaultRule> faults,
              List<ScenarioStep> steps) {}
}
