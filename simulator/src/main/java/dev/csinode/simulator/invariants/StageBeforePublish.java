package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * For a driver with STAGE_UNSTAGE_VOLUME, a volume is published only once a NodeStageVolume of it was answered OK,
 * with no NodeUnstageVolume sent since, and at the staging path it was staged at (CSI's node state machine; the
 * kubelet publishes only a device it marked globally mounted, and re-stages after any unstage attempt). Inline
 * (ephemeral) volumes are never staged and are not judged here.
 */
public final class StageBeforePublish implements Invariant {
  public static final String NAME = "stage-before-publish";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "for drivers with STAGE_UNSTAGE_VOLUME, NodePublishVolume only after a NodeStageVolume of the volume answered OK, "
        + "with no NodeUnstageVolume since, and with the staging_target_path it was staged at (CSI node state machine)";
  }

  @Override
  public String hint() {
    return "CSI spec: with STAGE_UNSTAGE_VOLUME, NodePublishVolume comes after NodeStageVolume answered OK at the same staging_target_path; NodeGetCapabilities must announce STAGE_UNSTAGE_VOLUME consistently, and a stage must be done when it answers OK";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    if (!stageUnstage) {
      return List.of();
    }
    List<Violation> out = new ArrayList<>();
    Map<String, List<CsiCall>> byVolume = Calls.byVolume(Calls.node(trace), Set.of(Calls.STAGE, Calls.UNSTAGE, Calls.PUBLISH));
    byVolume.forEach((volume, calls) -> {
      for (CsiCall p : calls) {
        if (p.method().equals(Calls.PUBLISH) && !KubeletPathPatterns.inlinePublish(volume, p.stagingPath(), p.targetPath())) {
          String why = why(calls, p);
          if (why != null) {
            out.add(new Violation(NAME, volume, Calls.describe(p) + " of volume " + volume + " at " + p.targetPath() + " " + why,
                Calls.around(trace, p)));
          }
        }
      }
    });
    return out;
  }

  /** What was wrong with the volume's staging when the publish was sent, or null when it was staged right. */
  private static String why(List<CsiCall> calls, CsiCall p) {
    CsiCall staged = null;
    for (CsiCall c : calls) {
      if (c.method().equals(Calls.STAGE) && c.ok() && Calls.end(c) <= p.startMicros()
          && (staged == null || c.startMicros() >= staged.startMicros())) {
        staged = c;
      }
    }
    if (staged == null) {
      CsiCall late = calls.stream().filter(c -> c.method().equals(Calls.STAGE) && c.ok() && c.startMicros() <= p.startMicros())
          .findFirst().orElse(null);
      return "was sent before any NodeStageVolume of the volume had been answered OK"
          + (late == null ? "" : " (" + Calls.describe(late) + " was still in flight: it ended at " + Calls.at(Calls.end(late))
          + ", the publish started at " + Calls.at(p.startMicros()) + ")");
    }
    for (CsiCall c : calls) {
      if (c.method().equals(Calls.UNSTAGE) && c.startMicros() >= staged.startMicros() && c.startMicros() < p.startMicros()) {
        return "was sent after " + Calls.describe(c) + ", with no NodeStageVolume answered OK since (the last was "
            + Calls.describe(staged) + ")";
      }
    }
    if (!Calls.samePath(staged.stagingPath(), p.stagingPath())) {
      return "passed staging_target_path " + (Calls.blankToNull(p.stagingPath()) == null ? "(none)" : p.stagingPath())
          + " but the volume was staged at " + staged.stagingPath() + " by " + Calls.describe(staged);
    }
    return null;
  }
}
