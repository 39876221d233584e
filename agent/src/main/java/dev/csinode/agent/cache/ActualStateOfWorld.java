package dev.csinode.agent.cache;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What is mounted, as far as the agent knows, including what it is not sure of: a stage or publish whose
 * outcome is unknown (timeout, crash) is UNCERTAIN, which means "may be mounted: not usable by the pod, but
 * must be torn down". Owned by the reconciler's context; {@link #snapshot()} gives readers an immutable copy.
 */
public final class ActualStateOfWorld {

  /** The volume's node-wide state: attachment and staging (global mount). */
  public enum DeviceState { NOT_MOUNTED, UNCERTAIN, MOUNTED }

  /** A pod's publish mount. Absent from the map means not mounted. */
  public enum MountState { UNCERTAIN, MOUNTED }

  /** One volume on this node. */
  public static final class AttachedVolume {
    public final VolumeSpec spec;
    public boolean attached;
    public Map<String, String> publishContext = Map.of();
    public DeviceState device = DeviceState.NOT_MOUNTED;
    public String stagingPath;
    public final Map<String, MountedPod> pods = new LinkedHashMap<>();
    /** Its view in the last {@link #snapshot()}, reused while it still shows the volume. */
    private VolumeView view;

    AttachedVolume(VolumeSpec spec) {
      this.spec = spec;
    }

    /** Whether anything of this volume may exist on the node: an attachment, a staging mount or a pod mount. */
    public boolean mayHoldAnything() {
      return attached || device != DeviceState.NOT_MOUNTED || !pods.isEmpty();
    }
  }

  /** A pod's publish of a volume. */
  public record MountedPod(String podUid, String podKey, MountState state, String targetPath) {
    /**
     * Whether this publish is the given pod's ({@code namespace/name}). One found on disk knows only the uid (its
     * podKey is the uid) and counts as the pod's; otherwise a pod that took over the uid of one gone is not given
     * that pod's mounts.
     */
    public boolean of(String podKey) {
      return this.podKey.equals(podKey) || this.podKey.equals(podUid);
    }
  }

  /** Immutable view of one volume for status and tests. */
  public record VolumeView(String uniqueName, VolumeSpec spec, boolean attached, DeviceState device, String stagingPath,
                           List<MountedPod> pods) {
    /** Whether this view still shows the volume: a pod's state changes by a new {@link MountedPod}, so identity tells. */
    boolean shows(AttachedVolume v) {
      if (spec != v.spec || attached != v.attached || device != v.device || !Objects.equals(stagingPath, v.stagingPath)
          || pods.size() != v.pods.size()) {
        return false;
      }
      int i = 0;
      for (MountedPod p : v.pods.values()) {
        if (pods.get(i++) != p) {
          return false;
        }
      }
      return true;
    }
  }

  private final Map<String, AttachedVolume> volumes = new LinkedHashMap<>();
  /** The last {@link #snapshot()}. */
  private Map<String, VolumeView> last = Map.of();

  public AttachedVolume getOrAdd(VolumeSpec spec) {
    return volumes.computeIfAbsent(spec.uniqueName(), k -> new AttachedVolume(spec));
  }

  public AttachedVolume get(String uniqueName) {
    return volumes.get(uniqueName);
  }

  /** The volumes now, a copy: the state may change while it is iterated. */
  public Collection<AttachedVolume> volumes() {
    return List.copyOf(volumes.values());
  }

  /**
   * The volumes themselves, unmodifiable and not copied, for a loop that changes no volume's presence (no
   * {@link #getOrAdd}, no {@link #remove}) while it runs: the reconciler looks at every volume in each of its passes,
   * hundreds a second, and a copy each time was a tenth of what a churn of pods allocated.
   */
  public Collection<AttachedVolume> volumesInPlace() {
    return Collections.unmodifiableCollection(volumes.values());
  }

  public void remove(String uniqueName) {
    volumes.remove(uniqueName);
  }

  public MountState podState(String uniqueName, String podUid) {
    AttachedVolume v = volumes.get(uniqueName);
    MountedPod p = v == null ? null : v.pods.get(podUid);
    return p == null ? null : p.state();
  }

  /**
   * Every volume by unique name, in the order volumes appeared (readers sort for display). A snapshot is taken after
   * every reconciler pass, hundreds per second in a burst, while an operation changes one volume at a time: a volume
   * unchanged since the last snapshot keeps its view, and when none changed the last snapshot itself is returned.
   */
  public Map<String, VolumeView> snapshot() {
    // Views first, the map only when one of them is not the last snapshot's: many passes change no volume.
    boolean same = last.size() == volumes.size();
    var earlier = last.values().iterator();
    for (AttachedVolume v : volumes.values()) {
      VolumeView view = v.view;
      if (view == null || !view.shows(v)) {
        view = new VolumeView(v.spec.uniqueName(), v.spec, v.attached, v.device, v.stagingPath, List.copyOf(v.pods.values()));
        v.view = view;
      }
      same = same && earlier.next() == view;
    }
    if (!same) {
      Map<String, VolumeView> out = new LinkedHashMap<>();
      for (AttachedVolume v : volumes.values()) {
        out.put(v.spec.uniqueName(), v.view);
      }
      last = Collections.unmodifiableMap(out);
    }
    return last;
  }
}
