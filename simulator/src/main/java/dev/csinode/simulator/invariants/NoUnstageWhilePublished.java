package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * No NodeUnstageVolume of a volume while a publish of it may still stand: a NodePublishVolume answered OK or with
 * an uncertain outcome (a non-final code such as DEADLINE_EXCEEDED or UNAVAILABLE, or no answer) that no
 * NodeUnpublishVolume of the same target answered OK has undone since (CSI: all unpublishes succeed before the
 * unstage; the kubelet counts the uncertain ones as possibly mounted).
 */
public final class NoUnstageWhilePublished implements Invariant {
  public static final String NAME = "no-unstage-while-published";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "no NodeUnstageVolume while a NodePublishVolume of the volume (answered OK, or uncertain: a timeout, "
        + "UNAVAILABLE, no answer) has not been undone by a NodeUnpublishVolume of that target answered OK (CSI, kubelet)";
  }

  @Override
  public String hint() {
    return "CSI spec: NodeUnstageVolume comes only after every NodeUnpublishVolume of the volume answered OK; NodeUnpublishVolume must answer OK, also for a target already unmounted or gone, or the volume stays published";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    List<Violation> out = new ArrayList<>();
    Map<String, List<CsiCall>> byVolume = Calls.byVolume(Calls.node(trace), Set.of(Calls.UNSTAGE, Calls.PUBLISH, Calls.UNPUBLISH));
    byVolume.forEach((volume, calls) -> {
      Set<String> targets = new LinkedHashSet<>();
      calls.stream().filter(c -> c.method().equals(Calls.PUBLISH) && c.targetPath() != null).forEach(c -> targets.add(c.targetPath()));
      for (CsiCall u : calls) {
        if (!u.method().equals(Calls.UNSTAGE)) {
          continue;
        }
        List<String> standing = new ArrayList<>();
        for (String target : targets) {
          CsiCall p = standingPublish(calls, target, u.startMicros());
          if (p != null) {
            standing.add(target + " (" + Calls.describe(p) + ")");
          }
        }
        if (!standing.isEmpty()) {
          out.add(new Violation(NAME, volume, Calls.describe(u) + " of volume " + volume + " was sent while the volume was still "
              + "published at " + String.join(", ", standing) + ", with no NodeUnpublishVolume of "
              + (standing.size() == 1 ? "that target" : "those targets") + " answered OK since", Calls.around(trace, u)));
        }
      }
    });
    return out;
  }

  /** The publish at the target that may still stand at the time, or null. */
  private static CsiCall standingPublish(List<CsiCall> calls, String target, long time) {
    CsiCall last = null;
    for (CsiCall c : calls) {
      if (c.method().equals(Calls.PUBLISH) && target.equals(c.targetPath()) && c.startMicros() < time && Calls.mayHaveActed(c)
          && (last == null || c.startMicros() >= last.startMicros())) {
        last = c;
      }
    }
    if (last == null) {
      return null;
    }
    for (CsiCall c : calls) {
      if (c.method().equals(Calls.UNPUBLISH) && target.equals(c.targetPath()) && c.ok() && c.startMicros() > last.startMicros()
          && Calls.end(c) <= time) {
        return null;
      }
    }
    return last;
  }
}
