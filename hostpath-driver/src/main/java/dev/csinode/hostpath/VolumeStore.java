package dev.csinode.hostpath;

import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The driver's volumes and snapshots in memory, backed by {@link StateStore}. Every change is persisted
 * before it becomes visible. Per-object operation locks make a second concurrent call on the same
 * volume fail fast with ABORTED, as the spec asks, instead of racing the first.
 */
final class VolumeStore {
  private final StateStore disk;
  private final ConcurrentHashMap<String, HostpathVolume> volumes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, HostpathSnapshot> snapshots = new ConcurrentHashMap<>();
  /** Ids of the (non-ephemeral) volumes by name: CreateVolume looks a name up on every call. */
  private final ConcurrentHashMap<String, String> idsByName = new ConcurrentHashMap<>();
  /** Capacity of all volumes and sizes of all snapshots, kept as they change (checked on every creation). */
  private final java.util.concurrent.atomic.AtomicLong volumeBytes = new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong snapshotBytes = new java.util.concurrent.atomic.AtomicLong();
  private final Set<String> busy = ConcurrentHashMap.newKeySet();
  /** Volume names being created outside the lock, with their sizes (guarded by this). */
  private final java.util.Map<String, Long> creating = new java.util.HashMap<>();

  VolumeStore(StateStore disk) {
    this.disk = disk;
    disk.loadVolumes().forEach(this::remember);
    disk.loadSnapshots().forEach(this::remember);
  }

  Optional<HostpathVolume> volume(String id) {
    return Optional.ofNullable(volumes.get(id));
  }

  Optional<HostpathVolume> volumeByName(String name) {
    String id = idsByName.get(name);
    return id == null ? Optional.empty() : volume(id).filter(v -> !v.ephemeral() && v.name().equals(name));
  }

  List<HostpathVolume> volumes() {
    return volumes.values().stream().sorted(Comparator.comparing(HostpathVolume::id)).toList();
  }

  Optional<HostpathSnapshot> snapshot(String id) {
    return Optional.ofNullable(snapshots.get(id));
  }

  Optional<HostpathSnapshot> snapshotByName(String name) {
    return snapshots.values().stream().filter(s -> s.name().equals(name)).findFirst();
  }

  List<HostpathSnapshot> snapshots() {
    return snapshots.values().stream().sorted(Comparator.comparing(HostpathSnapshot::id)).toList();
  }

  /** Bytes of volumes, snapshots and creations in progress. Call under {@link #serialized}. */
  long allocatedBytes() {
    return volumeBytes.get() + snapshotBytes.get() + creating.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Claims a volume name and its capacity for a creation in progress; false when the name is already being created. */
  synchronized boolean reserve(String name, long bytes) {
    return creating.putIfAbsent(name, bytes) == null;
  }

  synchronized void release(String name) {
    creating.remove(name);
  }

  Collection<HostpathVolume> all() {
    return volumes.values();
  }

  void put(HostpathVolume v) {
    disk.save(v);
    remember(v);
  }

  /** A change of where the volume is staged or published on this node (see {@link StateStore#saveNodeState}). */
  void putNodeState(HostpathVolume v) {
    disk.saveNodeState(v);
    remember(v);
  }

  void removeVolume(String id) {
    disk.deleteVolume(id);
    HostpathVolume old = volumes.remove(id);
    if (old != null) {
      volumeBytes.addAndGet(-old.capacityBytes());
      if (!old.ephemeral()) {
        idsByName.remove(old.name(), old.id());
      }
    }
  }

  void put(HostpathSnapshot s) {
    disk.save(s);
    remember(s);
  }

  void removeSnapshot(String id) {
    disk.deleteSnapshot(id);
    HostpathSnapshot old = snapshots.remove(id);
    if (old != null) {
      snapshotBytes.addAndGet(-old.sizeBytes());
    }
  }

  private void remember(HostpathVolume v) {
    HostpathVolume old = volumes.put(v.id(), v);
    volumeBytes.addAndGet(v.capacityBytes() - (old == null ? 0 : old.capacityBytes()));
    if (!v.ephemeral()) {
      idsByName.put(v.name(), v.id());
    }
  }

  private void remember(HostpathSnapshot s) {
    HostpathSnapshot old = snapshots.put(s.id(), s);
    snapshotBytes.addAndGet(s.sizeBytes() - (old == null ? 0 : old.sizeBytes()));
  }

  /** Runs the operation holding the lock of each key, or fails with ABORTED when one is held. */
  <T> T exclusive(List<String> keys, Supplier<T> op) {
    int taken = 0;
    try {
      for (String k : keys) {
        if (!busy.add(k)) {
          throw CsiErrors.aborted("an operation on " + k + " is already in progress; retry later");
        }
        taken++;
      }
      return op.get();
    } finally {
      for (int i = 0; i < taken; i++) {
        busy.remove(keys.get(i));
      }
    }
  }

  /** A lock over creating objects by name, so two CreateVolume calls with one name make one volume. */
  synchronized <T> T serialized(Supplier<T> op) {
    return op.get();
  }
}
