package dev.csinode.simulator.checkdriver;

import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioStep;
import dev.csinode.simulator.scenario.Step;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Which scenarios check-driver runs against a driver, and why it skips the others: the scale scenarios never (they are
 * simulate's), the full suite's only with {@code --suite full}, none whose {@code requires} the driver's
 * capabilities do not meet, and against a driver given by its endpoint none that restarts it or moves data through
 * its mounts (they are in the driver's own mount namespace). Works on any scenario by its metadata and steps, never by
 * its name.
 */
public final class ScenarioSelection {
  private ScenarioSelection() {}

  /** A scenario and what check-driver does with it. */
  public record Decision(Scenario scenario, String skipped) {
    /** Whether it runs; when not, {@link #skipped} says why, starting with "skipped: ". */
    public boolean runs() {
      return skipped == null;
    }

    public String name() {
      return scenario.name();
    }
  }

  /**
   * Each scenario's decision, sorted by name.
   *
   * @param suite {@link Scenario.Suite#BASIC} or {@link Scenario.Suite#FULL} (the full suite includes the basic one)
   * @param startedHere whether check-driver starts the driver (a command): only then can a scenario restart it, and
   *                    only then are its mounts in this mount namespace, where write-data and verify-data reach them
   */
  public static List<Decision> of(List<Scenario> scenarios, DriverCapabilities driver, Scenario.Suite suite, boolean startedHere) {
    if (suite == Scenario.Suite.SCALE) {
      throw new IllegalArgumentException("check-driver runs the basic or the full suite, not the scale scenarios");
    }
    List<Decision> decisions = new ArrayList<>();
    for (Scenario s : scenarios) {
      String reason = skipReason(s, driver, suite);
      decisions.add(new Decision(s, reason == null && !startedHere ? needsStartedDriver(s) : reason));
    }
    decisions.sort(Comparator.comparing(Decision::name));
    return List.copyOf(decisions);
  }

  /** Why the scenario does not run against this driver in this suite, or null when it runs. */
  static String skipReason(Scenario s, DriverCapabilities driver, Scenario.Suite suite) {
    if (s.suite() == Scenario.Suite.SCALE) {
      return "skipped: scale scenario, run it with simulate";
    }
    if (s.suite() == Scenario.Suite.FULL && suite == Scenario.Suite.BASIC) {
      return "skipped: suite full (give --suite full)";
    }
    Scenario.Requirements r = s.requires();
    List<String> missing = new ArrayList<>();
    missing(r.plugin(), driver.plugin(), "GetPluginCapabilities", missing);
    missing(r.controller(), driver.controller(), "ControllerGetCapabilities", missing);
    missing(r.node(), driver.node(), "NodeGetCapabilities", missing);
    if (!missing.isEmpty()) {
      return "skipped: the driver does not offer " + String.join(", ", missing);
    }
    // A scenario about a volume limit counts on exactly that limit: with another one (0: none) it proves nothing.
    if (r.maxVolumesPerNode() != null && r.maxVolumesPerNode() != driver.maxVolumesPerNode()) {
      return "skipped: needs max_volumes_per_node " + r.maxVolumesPerNode() + ", the driver reports " + driver.maxVolumesPerNode();
    }
    return null;
  }

  /** Why the scenario needs a driver check-driver starts itself, or null when it does not. */
  static String needsStartedDriver(Scenario s) {
    for (ScenarioStep step : s.steps()) {
      Step k = step.step();
      if (k instanceof Step.RestartDriver || k instanceof Step.Reboot || k instanceof Step.StopDriver
          || k instanceof Step.StartDriver) {
        return "skipped: " + (k instanceof Step.StopDriver || k instanceof Step.StartDriver ? "stops and starts" : "restarts")
            + " the driver (" + k.kind() + "), which needs the driver as --driver-command";
      }
    }
    for (ScenarioStep step : s.steps()) {
      Step k = step.step();
      if (k instanceof Step.WriteData || k instanceof Step.VerifyData || k instanceof Step.AssertVolume) {
        return "skipped: reads and writes data through the pod's volume (" + k.kind() + "), which needs the driver's mounts "
            + "here: give the driver as --driver-command";
      }
    }
    return null;
  }

  private static void missing(List<String> required, Set<String> offered, String where, List<String> out) {
    for (String name : required) {
      if (!offered.contains(name)) {
        out.add(name + " (" + where + ")");
      }
    }
  }
}
