package dev.csinode.simulator.invariants;

import java.util.List;

/** Every rule a scenario is checked against, in the order reports list them. */
public final class Invariants {
  private Invariants() {}

  public static List<Invariant> all() {
    return List.of(new StageBeforePublish(), new NoUnstageWhilePublished(), new OneOperationPerVolume(), new KubeletPaths(),
        new IdempotentRepeat(), new PublishMounts(), new NothingLeftUnwanted(), new NoDataLost());
  }
}
