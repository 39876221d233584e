package dev.csinode.agent.status;

import java.util.List;

/**
 * What the provisioner is doing, for {@code status}: claims it provisions for that have no volume yet, and the
 * PersistentVolumes it made.
 */
public record ProvisioningStatus(List<ClaimProvisioning> claims, List<ProvisionedVolume> volumes) {
  public static final ProvisioningStatus EMPTY = new ProvisioningStatus(List.of(), List.of());

  /**
   * A claim without a volume yet. {@code state}: provisioning (CreateVolume in flight), failed (retried at
   * {@code nextRetryAt}, after {@code failures} failures in a row) or error (only a change of the claim, its
   * StorageClass or the driver's registration can fix it).
   */
  public record ClaimProvisioning(String claim, String state, String driver, String lastError, int failures, String nextRetryAt) {}

  /**
   * A PersistentVolume the agent provisioned. {@code phase}: Bound (its claim exists), Released (its claim is gone;
   * {@code reason} says whether the agent deletes it or keeps it until {@code csi-node-agent pv delete NAME}).
   */
  public record ProvisionedVolume(String name, String claim, String driver, String volumeHandle, String reclaimPolicy,
                                  String phase, String reason, String lastError, String nextRetryAt) {}
}
