package dev.csinode.agent.cache;

import dev.csinode.agent.util.FrozenMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What should be mounted: for each unique volume its spec and the pods that need it, and per pod the problems
 * that keep some of its volumes out. Immutable; the populator builds a new one on every change of the pod
 * sources and the reconciler works from the latest.
 */
public record DesiredStateOfWorld(Map<String, DesiredVolume> volumes, Map<String, PodVolumes> pods) {

  public static final DesiredStateOfWorld EMPTY = new DesiredStateOfWorld(Map.of(), Map.of());

  /**
   * One volume and the pods (by UID) that need it. A frozen map, not {@code Map.copyOf}'s: the reconciler goes through
   * every volume's pods in each pass, and a one-entry {@code Map.copyOf} map makes a new entry set to be iterated.
   */
  public record DesiredVolume(VolumeSpec spec, Map<String, PodToMount> pods) {
    public DesiredVolume {
      pods = FrozenMap.of(pods);
    }
  }

  /**
   * Per pod: the unique names of its volumes the agent handles, its errors (bad references, limits: nothing
   * happens until the objects change), what it waits for (a claim being provisioned) and the volumes it leaves
   * to others (types this agent does not handle).
   */
  public record PodVolumes(String podUid, String podKey, List<String> uniqueNames, Map<String, String> podVolumeNames,
                           List<String> errors, List<String> waiting, List<String> notHandled) {
    public PodVolumes {
      uniqueNames = List.copyOf(uniqueNames);
      podVolumeNames = Map.copyOf(podVolumeNames);
      errors = List.copyOf(errors);
      waiting = List.copyOf(waiting);
      notHandled = List.copyOf(notHandled);
    }
  }

  public DesiredStateOfWorld {
    volumes = FrozenMap.of(volumes);
    pods = FrozenMap.of(pods);
  }

  public Optional<DesiredVolume> volume(String uniqueName) {
    return Optional.ofNullable(volumes.get(uniqueName));
  }

  public boolean podNeeds(String uniqueName, String podUid) {
    DesiredVolume v = volumes.get(uniqueName);
    return v != null && v.pods().containsKey(podUid);
  }
}
