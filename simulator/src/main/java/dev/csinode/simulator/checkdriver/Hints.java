package dev.csinode.simulator.checkdriver;

import dev.csinode.simulator.invariants.Invariant;
import dev.csinode.simulator.invariants.Invariants;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioStep;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The hint check-driver prints under a failed check: the scenario's own ({@code hints:} keyed by the invariant's
 * name, the step's kind or {@code cleanup}), else the invariant's {@link Invariant#hint}, else one for the step kind.
 */
public final class Hints {
  /** The key of a scenario's hint for the cleanup check. */
  static final String CLEANUP = "cleanup";
  private static final String INVARIANT_PREFIX = "invariant ";
  /** How the runner names a step's check: "step 4 wait-ready default/a". */
  private static final Pattern STEP = Pattern.compile("step (\\d{1,9}) ([a-z-]+)(?: .*)?", Pattern.DOTALL);
  private static final Map<String, String> STEP_HINTS = Map.of(
      "wait-ready", "kubelet: a pod starts only once each of its volumes is published: NodeStageVolume and NodePublishVolume "
          + "must answer OK within the CSI timeout; the calls that failed are in the JUnit and HTML reports",
      "wait-gone", "kubelet: a pod is gone once NodeUnpublishVolume (and for its last pod NodeUnstageVolume) answered OK; "
          + "both must answer OK for a volume or path already unmounted (CSI spec: NOT_FOUND only for a volume the driver "
          + "does not know)",
      CLEANUP, "once NodeUnpublishVolume and NodeUnstageVolume answered OK nothing of the volume may stay mounted, and "
          + "DeleteVolume must release what backs it (a loop device included)");

  private Hints() {}

  /** The hint for a failed check of the scenario, or null when there is none. */
  public static String of(Scenario scenario, Check check) {
    String key = key(scenario, check.name());
    if (key == null) {
      return null;
    }
    String own = scenario.hints().get(key);
    if (own != null) {
      return own;
    }
    if (check.name().startsWith(INVARIANT_PREFIX)) {
      for (Invariant inv : Invariants.all()) {
        if (inv.name().equals(key)) {
          return inv.hint();
        }
      }
      return null;
    }
    return STEP_HINTS.get(key);
  }

  /** The hint key of a check: the invariant's name, the step's kind, or "cleanup"; null for a check of another kind. */
  static String key(Scenario scenario, String checkName) {
    if (checkName.startsWith(INVARIANT_PREFIX)) {
      return checkName.substring(INVARIANT_PREFIX.length());
    }
    if (checkName.startsWith(CLEANUP)) {
      return CLEANUP;
    }
    Matcher m = STEP.matcher(checkName);
    if (!m.matches()) {
      return null;
    }
    // The kind from the step itself where the number names one (a kind's label is a single word, but be exact).
    int number = Integer.parseInt(m.group(1));
    for (ScenarioStep step : scenario.steps()) {
      if (step.number() == number) {
        return step.step().kind();
      }
    }
    return m.group(2);
  }
}
