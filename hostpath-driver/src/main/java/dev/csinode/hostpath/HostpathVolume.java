package dev.csinode.hostpath;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A volume as the driver persists it: what was created, and what the node currently has of it
 * (controller publications, the staging mount, the publish mounts). Immutable; changes make copies.
 */
public record HostpathVolume(
    String id, String name, VolumeKind kind, boolean block, long capacityBytes,
    Map<String, String> parameters, String sourceSnapshotId, String sourceVolumeId, boolean ephemeral,
    long createdAtMillis, Map<String, Boolean> publishedNodes, Staged staged, Map<String, Published> published) {

  /** The staging mount (or, for block volumes, the attached loop device) of this volume on this node. */
  public record Staged(String path, String loopDevice, boolean block, String fsType, List<String> mountFlags) {}

  /** One publish target on this node. */
  public record Published(String stagingPath, boolean readOnly, boolean block, int accessMode, List<String> mountFlags) {}

  public HostpathVolume {
    parameters = Map.copyOf(parameters == null ? Map.of() : parameters);
    publishedNodes = Map.copyOf(publishedNodes == null ? Map.of() : publishedNodes);
    published = Map.copyOf(published == null ? Map.of() : published);
  }

  public boolean usesImage() {
    return kind == VolumeKind.FILESYSTEM;
  }

  public boolean inUseOnNode() {
    return staged != null || !published.isEmpty();
  }

  public HostpathVolume withStaged(Staged s) {
    return new HostpathVolume(id, name, kind, block, capacityBytes, parameters, sourceSnapshotId, sourceVolumeId,
        ephemeral, createdAtMillis, publishedNodes, s, published);
  }

  public HostpathVolume withPublished(String target, Published p) {
    Map<String, Published> m = new TreeMap<>(published);
    if (p == null) {
      m.remove(target);
    } else {
      m.put(target, p);
    }
    return new HostpathVolume(id, name, kind, block, capacityBytes, parameters, sourceSnapshotId, sourceVolumeId,
        ephemeral, createdAtMillis, publishedNodes, staged, m);
  }

  public HostpathVolume withPublishedNode(String nodeId, Boolean readOnly) {
    Map<String, Boolean> m = new TreeMap<>(publishedNodes);
    if (readOnly == null) {
      m.remove(nodeId);
    } else {
      m.put(nodeId, readOnly);
    }
    return new HostpathVolume(id, name, kind, block, capacityBytes, parameters, sourceSnapshotId, sourceVolumeId,
        ephemeral, createdAtMillis, m, staged, published);
  }

  public HostpathVolume withCapacity(long bytes) {
    return new HostpathVolume(id, name, kind, block, bytes, parameters, sourceSnapshotId, sourceVolumeId,
        ephemeral, createdAtMillis, publishedNodes, staged, published);
  }
}
