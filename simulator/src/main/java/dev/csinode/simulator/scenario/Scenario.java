package dev.csinode.simulator.scenario;

import dev.csinode.agent.VolumeManager;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.proxy.FaultRule;
import java.time.Duration;
import java.util.List;

/**
 * A scenario as read from its file: a timeline of steps played against one node and one driver.
 *
 * @param seed           the file's seed, or null (the run's seed then comes from the command line or is 1)
 * @param inMemoryDriver the in-memory driver's options when the scenario asks for it (simulated mounts, no root);
 *                       null: the bundled hostpath driver with real mounts
 * @param volumeManager  the volume manager's knobs the scenario changes
 * @param faults         the fault rules the steps may turn on, all off at the start
 * @param origin         where it was read from (a path, or {@code scenarios/NAME.yaml} in the jar), for messages
 */
public record Scenario(String name, String description, Long seed, InMemoryDriver.Options inMemoryDriver,
                       Knobs volumeManager, List<FaultRule> faults, List<ScenarioStep> steps, String origin) {

  /** The seed used when neither the command line nor the file gives one. */
  public static final long DEFAULT_SEED = 1;

  public Scenario {
    faults = List.copyOf(faults);
    steps = List.copyOf(steps);
    volumeManager = volumeManager == null ? new Knobs(null, null, null, null) : volumeManager;
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

  /** The {@code driver:} section; {@code inMemory}: the in-memory driver's options. */
  record DriverSection(InMemoryDriver.Options inMemory) {}

  /** The file as Jackson binds it, before it is checked. */
  record File(String name, String description, Long seed, DriverSection driver, Knobs volumeManager, List<FaultRule> faults,
              List<ScenarioStep> steps) {}
}
