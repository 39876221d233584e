package dev.csinode.agent.cache;

import java.util.List;
import java.util.Map;

/**
 * Everything needed to stage and publish one CSI volume, resolved from the pod, its claim, the PV and the
 * CSIDriver object. {@code specName} is the PV name, or the pod's volume name for inline volumes; it names
 * the per-pod directory as the kubelet does.
 */
public record VolumeSpec(String uniqueName, String driver, String volumeHandle, String specName, boolean inline,
                         boolean block, String fsType, List<String> mountOptions, String accessMode,
                         Map<String, String> volumeAttributes, SecretRef stageSecret, SecretRef publishSecret,
                         boolean attachRequired, boolean podInfoOnMount, String fsGroupPolicy, String pvName, String claimKey) {

  /** A Secret by namespace and name. */
  public record SecretRef(String namespace, String name) {
    @Override
    public String toString() {
      return namespace + "/" + name;
    }
  }

  public VolumeSpec {
    mountOptions = List.copyOf(mountOptions);
    volumeAttributes = Map.copyOf(volumeAttributes);
  }

  /** The same volume under another unique name (records of an older version). */
  public VolumeSpec withUniqueName(String name) {
    return new VolumeSpec(name, driver, volumeHandle, specName, inline, block, fsType, mountOptions, accessMode, volumeAttributes,
        stageSecret, publishSecret, attachRequired, podInfoOnMount, fsGroupPolicy, pvName, claimKey);
  }
}
