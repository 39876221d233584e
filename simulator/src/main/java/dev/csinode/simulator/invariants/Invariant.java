package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.List;

/** A named rule from the kubelet's contract or the CSI spec, checked over a scenario's trace and end state. */
public interface Invariant {

  /** Stable, kebab-case: names the check in reports and JUnit. */
  String name();

  /** One line: what the rule demands and where it comes from. */
  String description();

  /**
   * For a driver author whose driver broke the rule: what the CSI spec or the kubelet expects of a driver here, one
   * line (check-driver prints it under the failure); null when there is nothing to add.
   */
  default String hint() {
    return null;
  }

  /**
   * The breaches in this run; empty when the rule held.
   *
   * @param stageUnstage whether the driver advertised STAGE_UNSTAGE_VOLUME
   */
  List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage);
}
