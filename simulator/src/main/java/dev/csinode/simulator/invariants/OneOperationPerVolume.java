package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Never two node operations in flight on one volume at once, as the kubelet's nested pending operations serialize
 * them: stage, unstage, publish and expansion are volume-wide; only unpublishes of different targets (different
 * pods) may run side by side. NodeGetVolumeStats is not judged: the kubelet's stats collection calls it outside the
 * operation executor, at any time. NodeExpandVolume is judged: the kubelet runs it as a volume-wide operation
 * (ExpandInUseVolume, or inside the mount operation after the publish). The simulator's own repeats are not the
 * node's and are left out. Volumes are told apart by their id alone (one driver per scenario).
 */
public final class OneOperationPerVolume implements Invariant {
  public static final String NAME = "one-operation-per-volume";
  private static final Set<String> OPERATIONS = Set.of(Calls.STAGE, Calls.UNSTAGE, Calls.PUBLISH, Calls.UNPUBLISH, Calls.EXPAND);

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "never two node operations (stage, unstage, publish, unpublish, expand) in flight on one volume at once; "
        + "unpublishes of different targets (pods) may overlap (kubelet operation executor)";
  }

  @Override
  public String hint() {
    return "kubelet: one operation per volume at a time; a call that outlives the node's deadline is still in flight when the node retries: answer within the CSI timeout (or ABORTED while an operation on the volume is pending)";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    List<Violation> out = new ArrayList<>();
    Map<String, List<CsiCall>> byVolume = Calls.byVolume(Calls.node(trace), OPERATIONS);
    byVolume.forEach((volume, calls) -> {
      List<CsiCall> sorted = new ArrayList<>(calls);
      sorted.sort(Comparator.comparingLong(CsiCall::startMicros).thenComparingLong(CsiCall::seq));
      for (int i = 0; i < sorted.size(); i++) {
        CsiCall a = sorted.get(i);
        for (int j = i + 1; j < sorted.size() && sorted.get(j).startMicros() < Calls.end(a); j++) {
          CsiCall b = sorted.get(j);
          if (Calls.overlap(a, b) && !allowed(a, b)) {
            out.add(new Violation(NAME, volume, Calls.describe(b) + " of volume " + volume + " was sent at " + Calls.at(b.startMicros())
                + " while " + Calls.describe(a) + " was in flight (" + Calls.at(a.startMicros()) + " to " + Calls.at(Calls.end(a)) + ")",
                Calls.around(trace, b)));
          }
        }
      }
    });
    return out;
  }

  /** The kubelet's one exception: unmounts are keyed by pod, so two pods' unpublishes run in parallel. */
  private static boolean allowed(CsiCall a, CsiCall b) {
    return a.method().equals(Calls.UNPUBLISH) && b.method().equals(Calls.UNPUBLISH) && a.targetPath() != null
        && !a.targetPath().equals(b.targetPath());
  }
}
