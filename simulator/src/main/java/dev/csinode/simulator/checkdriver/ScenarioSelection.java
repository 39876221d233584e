package dev.csinode.simulator.checkdriver;

import dev.csinode.simulator.scenario.Scenario;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Which scenarios check-driver runs against a driver, and why it skips the others: the scale scenarios never (they are
 * simulate's), the full suite's only with {@code --suite full}, and none whose {@code requires} the driver's
 * capabilities do not meet. Works on any scenario by its metadata, never by its name.
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
   */
  public static List<Decision> of(List<Scenario> scenarios, DriverCapabilities driver, Scenario.Suite suite) {
    if (suite == Scenario.Suite.SCALE) {
      throw new IllegalArgumentException("check-driver runs the basic or the full suite, not the scale scenarios");
    }
    List<Decision> decisions = new ArrayList<>();
    for (Scenario s : scenarios) {
      decisions.add(new Decision(s, skipReason(s, driver, suite)));
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

  private static void missing(List<String> required, Set<String> offered, String where, List<String> out) {
    for (String name : required) {
      if (!offered.contains(name)) {
        out.add(name + " (" + where + ")");
      }
    }
  }
}
