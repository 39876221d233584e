package dev.csinode.hostpath;

import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The driver's volumes and snapshots in memory, backed by {@link StateStore}. Every change is persisted
 * before it becomes visible. Per-object operation locks make a second concurrent call on the same
 * volume fail fast with ABORTED, as the spec asks, instead of racing the first.
 */
final class VolumeStore {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeStore.class);
  private final StateStore disk;
  private final ConcurrentHashMap<String, HostpathVolume> volumes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, HostpathSnapshot> snapshots = new ConcurrentHashMap<>();
  /** Ids of the (non-ephemeral) volumes by name: CreateVolume looks a name up on every call. */
  private final ConcurrentHashMap<String, String> idsByName = new ConcurrentHashMap<>();
  /** Capacity of all volumes and sizes of all snapshots, kept as they change (checked on every creation). */
  private final AtomicLong volumeBytes = new AtomicLong();
  private final AtomicLong snapshotBytes = new AtomicLong();
  private final Set<String> busy = ConcurrentHashMap.newKeySet();
  /** Creations in progress outside the lock, with their sizes (guarded by this). */
  private final Map<Creation, Long> creating = new HashMap<>();
  /** Their sum, readable without the lock (GetCapacity must not wait behind a clone that holds it). */
  private final AtomicLong creatingBytes = new AtomicLong();

  /**
   * A creation in progress: of a CreateVolume name, or of an inline ephemeral volume by its id (the two name spaces
   * are separate: any text is a CreateVolume name).
   */
  private record Creation(String key, boolean ephemeral) {}

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

  /**
   * Bytes of volumes (inline ephemeral ones included), snapshots and creations in progress. Exact under
   * {@link #serialized}, which a decision on capacity needs.
   */
  long allocatedBytes() {
    return volumeBytes.get() + snapshotBytes.get() + creatingBytes.get();
  }

  /**
   * What is left of {@code capacity}; never negative, also when a restart with a smaller --capacity finds more
   * allocated than that.
   */
  long freeBytes(long capacity) {
    return Math.max(0, capacity - allocatedBytes());
  }

  /** Claims a volume name and its capacity for a creation in progress; false when the name is already being created. */
  synchronized boolean reserve(String name, long bytes) {
    return claim(new Creation(name, false), bytes);
  }

  synchronized void release(String name) {
    unclaim(new Creation(name, false));
  }

  /** Claims the capacity of an inline ephemeral volume being made; false when one of this id is already being made. */
  synchronized boolean reserveEphemeral(String id, long bytes) {
    return claim(new Creation(id, true), bytes);
  }

  synchronized void releaseEphemeral(String id) {
    unclaim(new Creation(id, true));
  }

  private boolean claim(Creation c, long bytes) {
    if (creating.putIfAbsent(c, bytes) != null) {
      return false;
    }
    creatingBytes.addAndGet(bytes);
    return true;
  }

  private void unclaim(Creation c) {
    Long bytes = creating.remove(c);
    if (bytes != null) {
      creatingBytes.addAndGet(-bytes);
    }
  }

  Collection<HostpathVolume> all() {
    return volumes.values();
  }

  void put(HostpathVolume v) {
    disk.save(v);
    remember(v);
  }

  /**
   * Records a volume just made. When that fails, no record of it may stay: the failed append is dropped from the log
   * at its next write, and a removal is written for the case of a line written whose flush failed (best effort: on a
   * full disk it fails too, and then that line is dropped with the first compaction).
   */
  void add(HostpathVolume v) {
    try {
      disk.save(v);
    } catch (RuntimeException e) {
      forget(() -> disk.deleteVolume(v.id()), "volume " + v.id());
      throw e;
    }
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

  /** Records a snapshot just made; like {@link #add(HostpathVolume)}, a failure leaves no record. */
  void add(HostpathSnapshot s) {
    try {
      disk.save(s);
    } catch (RuntimeException e) {
      forget(() -> disk.deleteSnapshot(s.id()), "snapshot " + s.id());
      throw e;
    }
    remember(s);
  }

  private static void forget(Runnable removal, String what) {
    try {
      removal.run();
    } catch (RuntimeException e) {
      // Mostly the failure the caller reports (the disk is still full); the log drops the line at its next write.
      LOG.debug("could not write the removal of the failed record of {}: {}", what, e.getMessage());
    }
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
