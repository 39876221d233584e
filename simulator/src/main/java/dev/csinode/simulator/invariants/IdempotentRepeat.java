package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A NodeStageVolume or NodePublishVolume repeated with the same arguments after it was answered OK is answered OK
 * again (CSI: both are idempotent; the kubelet repeats them after a restart, a reconstruction or a lost answer). The
 * repeats are the simulator's own probe calls, sent right after each OK answer.
 */
public final class IdempotentRepeat implements Invariant {
  public static final String NAME = "idempotent-repeat";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "a NodeStageVolume or NodePublishVolume repeated with the same arguments after an OK answer is answered OK "
        + "again (CSI idempotency)";
  }

  @Override
  public String hint() {
    return "CSI spec: NodeStageVolume/NodePublishVolume must answer OK when repeated with the same arguments";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    List<Violation> out = new ArrayList<>();
    for (CsiCall probe : trace) {
      if (!probe.probe() || probe.ok()) {
        continue;
      }
      CsiCall original = original(trace, probe);
      out.add(new Violation(NAME, probe.volumeId(), "the repeat " + Calls.describe(probe) + " of "
          + (original == null ? probe.method() : Calls.describe(original)) + " on volume " + probe.volumeId()
          + ", with the same arguments, was " + (probe.inFlight() || probe.code() == null ? "never answered" : "answered "
          + Calls.outcome(probe)) + "; a repeat of an OK call must be answered OK", Calls.around(trace, probe)));
    }
    return out;
  }

  /** The node's call the probe repeated: the last before it with the same method, volume and paths, answered OK. */
  private static CsiCall original(List<CsiCall> trace, CsiCall probe) {
    CsiCall found = null;
    for (CsiCall c : trace) {
      if (c.seq() < probe.seq() && !c.probe() && c.ok() && c.method().equals(probe.method())
          && Objects.equals(c.volumeId(), probe.volumeId()) && Calls.samePath(c.stagingPath(), probe.stagingPath())
          && Calls.samePath(c.targetPath(), probe.targetPath())) {
        found = c;
      }
    }
    return found;
  }
}
