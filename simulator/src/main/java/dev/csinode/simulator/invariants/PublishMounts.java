package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.List;

/**
 * A NodePublishVolume answered OK leaves something mounted at its target: the pod's containers bind-mount that
 * path, and an empty directory there silently gives them the node's disk instead of the volume. Judged where the
 * proxy could look right after the answer ({@link CsiCall#mountedAfter()} set).
 */
public final class PublishMounts implements Invariant {
  public static final String NAME = "publish-mounts";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "a NodePublishVolume answered OK leaves its target_path a mount point (checked right after the answer)";
  }

  @Override
  public String hint() {
    return "CSI spec: NodePublishVolume answers OK only once target_path is mounted (bind mount of the staged volume, or the device for block); the kubelet starts the pod on that OK";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    List<Violation> out = new ArrayList<>();
    for (CsiCall c : trace) {
      if (c.method().equals(Calls.PUBLISH) && c.ok() && Boolean.FALSE.equals(c.mountedAfter())) {
        out.add(new Violation(NAME, c.volumeId(), Calls.describe(c) + (c.probe() ? ", a repeat by the simulator," : "")
            + " of volume " + c.volumeId() + " was answered OK but nothing was mounted at " + c.targetPath() + " right after",
            Calls.around(trace, c)));
      }
    }
    return out;
  }
}
