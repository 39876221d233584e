package dev.csinode.simulator.driver.memory;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything the in-memory driver knows: its volumes and where each is staged and published on the node. Lives as
 * long as the driver object, across restarts of its server, as a real driver's state on disk survives the driver's
 * restart. Callers hold its monitor for every read and change: calls are microseconds, one lock is enough.
 */
public final class MemoryState {
  /** Where a volume is staged. */
  public record Staged(String path, boolean block, List<String> mountFlags) {}

  /** One publication of a volume at a target. */
  public record Published(String volumeId, String stagingPath, boolean readOnly, boolean block, List<String> mountFlags) {}

  final Map<String, MemoryVolume> volumes = new HashMap<>();
  final Map<String, MemoryVolume> byName = new HashMap<>();
  /** Volume id to where it is staged. */
  final Map<String, Staged> staged = new HashMap<>();
  /** Target path to its publication. */
  final Map<String, Published> published = new HashMap<>();
  /** Volume id to how many targets it is published at. */
  final Map<String, Integer> publications = new HashMap<>();
  long usedBytes;

  void add(MemoryVolume v) {
    volumes.put(v.id(), v);
    if (!v.ephemeral()) {
      byName.put(v.name(), v);
    }
    usedBytes += v.capacityBytes();
  }

  void remove(MemoryVolume v) {
    volumes.remove(v.id());
    byName.remove(v.name(), v);
    usedBytes -= v.capacityBytes();
  }

  void publish(String target, Published p) {
    if (published.put(target, p) == null) {
      publications.merge(p.volumeId(), 1, Integer::sum);
    }
  }

  void unpublish(String target) {
    Published p = published.remove(target);
    if (p != null) {
      publications.computeIfPresent(p.volumeId(), (k, n) -> n <= 1 ? null : n - 1);
    }
  }

  boolean isPublished(String volumeId) {
    return publications.containsKey(volumeId);
  }

  /** Volumes staged or published on the node: what max_volumes_per_node limits. */
  long inUse() {
    return volumes.keySet().stream().filter(id -> staged.containsKey(id) || publications.containsKey(id)).count();
  }

  /** A copy of the volumes, for tests and reports. */
  public synchronized List<MemoryVolume> volumes() {
    return List.copyOf(volumes.values());
  }

  public synchronized Map<String, Staged> stagedVolumes() {
    return Map.copyOf(staged);
  }

  public synchronized Map<String, Published> publishedTargets() {
    return Map.copyOf(published);
  }
}
