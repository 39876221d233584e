package dev.csinode.agent.status;

import java.util.List;

/** Pods and volumes as {@code status} shows them. */
public final class VolumeManagerStatus {
  private VolumeManagerStatus() {}

  /**
   * A pod's volumes; {@code ready} when every volume it needs is published and nothing is wrong. {@code waiting}:
   * volumes not known yet because the agent is still at work on them (a claim being provisioned).
   */
  public record PodStatus(String pod, String uid, boolean ready, List<PodVolume> volumes, List<String> errors,
                          List<String> waiting, List<String> notHandled) {}

  /**
   * One volume of a pod. {@code state}: pending, in progress, staged, published, uncertain or failed. {@code hostPath} is
   * what a runtime binds into the container: the publish target (or the block device file).
   */
  public record PodVolume(String name, String uniqueName, String driver, String volumeHandle, String state,
                          String stagingPath, String hostPath, String lastError, String nextRetryAt) {}

  /** A volume on the node, whoever uses it. */
  public record VolumeStatus(String uniqueName, String driver, String volumeHandle, String state, boolean attached,
                             String stagingPath, List<String> publishedFor, String lastError, String nextRetryAt) {}
}
