package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.List;

/**
 * Data the scenario wrote through a pod's volume reads back the same later, across whatever the scenario did in
 * between (agent and driver restarts, a reboot, faults): a node that loses or mixes up volume data fails here.
 */
public final class NoDataLost implements Invariant {
  public static final String NAME = "no-data-lost";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "every file the scenario wrote through a pod's volume reads back with the checksum it was written with";
  }

  @Override
  public String hint() {
    return "CSI spec: a volume's data survives unpublish, unstage and a new stage and publish; the driver must never reformat or recreate a volume it already has";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    List<Violation> out = new ArrayList<>();
    for (EndState.DataCheck d : end.dataChecks()) {
      if (!d.intact()) {
        out.add(new Violation(NAME, null, "pod " + d.pod() + " volume " + d.volume() + ": file " + d.file() + " was written with "
            + "sha-256 " + d.expected() + " but " + d.step() + " " + (d.actual() == null ? "found it missing"
            : "read back sha-256 " + d.actual()), List.of()));
      }
    }
    return out;
  }
}
