package dev.csinode.agent.provisioner;

import io.fabric8.kubernetes.api.model.PersistentVolume;

/**
 * A PersistentVolume this agent provisioned, its claim's {@code namespace/name}, and whether its release (the claim
 * seen going) is on record: then it is deleted per its reclaimPolicy, also after a restart.
 */
public record Provisioned(PersistentVolume pv, String claim, boolean released) {
  static final String RELEASED = "Released";

  public Provisioned(PersistentVolume pv) {
    this(pv, pv.getSpec().getClaimRef().getNamespace() + "/" + pv.getSpec().getClaimRef().getName(),
        pv.getStatus() != null && RELEASED.equals(pv.getStatus().getPhase()));
  }

  public String name() {
    return pv.getMetadata().getName();
  }

  public String driver() {
    return pv.getSpec().getCsi().getDriver();
  }

  public String volumeHandle() {
    return pv.getSpec().getCsi().getVolumeHandle();
  }

  boolean deletedWhenReleased() {
    return "Delete".equals(pv.getSpec().getPersistentVolumeReclaimPolicy());
  }
}
