package dev.csinode.agent.operationexecutor;

/**
 * What an operation locks, as the kubelet's nested pending operations: a volume-wide operation
 * ({@code podUid} empty: stage, unstage, the mount of a PV-backed volume) excludes every other operation on
 * the volume; pod operations (publish of inline volumes, unpublish) exclude only the same pod's.
 */
public record OperationKey(String volume, String podUid) {
  public static OperationKey volume(String volume) {
    return new OperationKey(volume, "");
  }

  public boolean conflictsWith(OperationKey other) {
    return volume.equals(other.volume) && (podUid.isEmpty() || other.podUid.isEmpty() || podUid.equals(other.podUid));
  }

  @Override
  public String toString() {
    return podUid.isEmpty() ? volume : volume + " (pod " + podUid + ")";
  }
}
