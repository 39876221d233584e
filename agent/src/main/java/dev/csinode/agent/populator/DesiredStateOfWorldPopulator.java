package dev.csinode.agent.populator;

import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.populator.PodVolumeResolver.PodResolution;
import dev.csinode.agent.populator.PodVolumeResolver.Resolved;
import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.volume.KubeletLayout;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds the desired state of world from the pod sources, as the kubelet's populator does: each pod's volumes are
 * resolved by {@link PodVolumeResolver} (specs, errors naming the object and field, waits, volume types this agent
 * does not handle), and the pods are then put together: one holder per uid, one spec per volume, a volume used as a
 * block device by one pod and as a filesystem by another refused for the second.
 */
public final class DesiredStateOfWorldPopulator {
  /** A pod's resolution and the objects it was resolved from, by identity: unchanged pods are not resolved again. */
  private record Cached(Pod pod, List<Lookups.Dep> deps, PodResolution result) {}

  /** Every pod's last resolution, by {@code namespace/name}. */
  private final Map<String, Cached> cache = new HashMap<>();
  /** The pods (keys, in key order) whose resolution uses each unique volume name. */
  private final Map<String, TreeSet<String>> podsByVolume = new HashMap<>();
  /**
   * The pods claiming each uid, in the order they were first seen (pods first seen together: in key order). Only
   * the first holds the uid: its directory {@code pods/<uid>} and its inline volumes are the uid's. The others
   * wait with an error until it is gone, so two pods never share a directory and deleting one of them never
   * touches the other's volumes.
   */
  private final Map<String, List<String>> uidHolders = new HashMap<>();
  /** Pods whose mounts are in {@link #podsByVolume}: the holders of their uids. */
  private final Set<String> indexed = new HashSet<>();
  /** Who held each uid before a restart (from the actual state): that pod keeps it whatever order the sources give. */
  private Map<String, String> previousHolders = Map.of();
  private DesiredStateOfWorld last = DesiredStateOfWorld.EMPTY;
  private ClusterObjects lastObjects = ClusterObjects.EMPTY;
  private Map<String, String> lastProblems = Map.of();
  private Map<String, String> lastRetries = Map.of();

  public DesiredStateOfWorldPopulator() {}

  /**
   * The pod (namespace/name) that held each uid before a restart, from the actual state: when other pods claim
   * the same uid, that one keeps it. Call before the first {@link #build}.
   */
  public void previousHolders(Map<String, String> podKeyByUid) {
    this.previousHolders = new HashMap<>(podKeyByUid);
  }

  /** Resolves everything (no memory of earlier calls). */
  public static DesiredStateOfWorld populate(ClusterObjects objects) {
    return populate(objects, Map.of());
  }

  /** @param claimProblems why claims are not bound yet (from the provisioner), by {@code namespace/name} */
  public static DesiredStateOfWorld populate(ClusterObjects objects, Map<String, String> claimProblems) {
    return new DesiredStateOfWorldPopulator().build(objects, claimProblems);
  }

  /**
   * The desired state for these objects. Incremental: a pod whose object and whose looked-up objects (claim, PV,
   * CSIDriver, Secrets, claim problem) are the same instances as at the last call keeps its earlier resolution,
   * and only the volumes of the pods that changed, and the entries of the pods sharing those volumes, are built
   * again; the rest of the earlier desired state is carried over. So a change to one pod among thousands costs
   * one pod's resolution and an identity check per pod. Not thread-safe: one caller (the volume manager's context).
   */
  public DesiredStateOfWorld build(ClusterObjects objects, Map<String, String> claimProblems) {
    return build(objects, claimProblems, Map.of());
  }

  /**
   * @param claimRetries claims whose provisioning failed and is retried (from the provisioner), and how it stands:
   *     their pods are waiting, not in error
   */
  public DesiredStateOfWorld build(ClusterObjects objects, Map<String, String> claimProblems, Map<String, String> claimRetries) {
    // Only the kinds whose map is not the same instance as last time are looked up again for each pod.
    EnumSet<Lookups.Kind> changedKinds = EnumSet.noneOf(Lookups.Kind.class);
    if (objects.csiDrivers() != lastObjects.csiDrivers()) {
      changedKinds.add(Lookups.Kind.DRIVER);
    }
    if (objects.claims() != lastObjects.claims()) {
      changedKinds.add(Lookups.Kind.CLAIM);
    }
    if (objects.volumes() != lastObjects.volumes()) {
      changedKinds.add(Lookups.Kind.VOLUME);
    }
    if (objects.secrets() != lastObjects.secrets()) {
      changedKinds.add(Lookups.Kind.SECRET);
    }
    if (!claimProblems.equals(lastProblems) || !claimRetries.equals(lastRetries)) {
      changedKinds.add(Lookups.Kind.PROBLEM);
    }
    lastObjects = objects;
    lastProblems = claimProblems;
    lastRetries = claimRetries;
    Lookups lookups = new Lookups(objects, claimProblems, claimRetries, null);
    Set<String> changedPods = new HashSet<>();
    Set<String> touchedVolumes = new HashSet<>();
    Set<String> touchedUids = new HashSet<>();
    List<String> arrivals = new ArrayList<>();
    objects.pods().forEach((podKey, pod) -> {
      Cached c = cache.get(podKey);
      if (c != null && c.pod() == pod && (changedKinds.isEmpty() || lookups.unchanged(c.deps(), changedKinds))) {
        return;
      }
      Lookups recording = new Lookups(objects, claimProblems, claimRetries, new ArrayList<>());
      Cached next = new Cached(pod, recording.deps, PodVolumeResolver.resolve(podKey, pod, recording));
      if (c != null) {
        if (indexed.remove(podKey)) {
          unindex(podKey, c, touchedVolumes);
        }
        if (!c.result().uid().equals(next.result().uid())) {
          release(c.result().uid(), podKey);
        }
        touchedUids.add(c.result().uid());
      }
      cache.put(podKey, next);
      if (c == null || !c.result().uid().equals(next.result().uid())) {
        arrivals.add(podKey);
      }
      touchedUids.add(next.result().uid());
      changedPods.add(podKey);
    });
    if (cache.size() > objects.pods().size()) { // the cache holds every current pod now: the rest are gone
      for (var it = cache.entrySet().iterator(); it.hasNext(); ) {
        var e = it.next();
        if (!objects.pods().containsKey(e.getKey())) {
          if (indexed.remove(e.getKey())) {
            unindex(e.getKey(), e.getValue(), touchedVolumes);
          }
          release(e.getValue().result().uid(), e.getKey());
          touchedUids.add(e.getValue().result().uid());
          it.remove();
          changedPods.add(e.getKey());
        }
      }
    }
    arrivals.sort(null); // pods first seen together queue for a uid in key order: the same outcome on every run
    for (String podKey : arrivals) {
      String uid = cache.get(podKey).result().uid();
      if (KubeletLayout.isValidUid(uid)) { // a pod with an unusable uid has an error of its own and no volumes
        List<String> holders = uidHolders.computeIfAbsent(uid, k -> new ArrayList<>());
        holders.add(podKey.equals(previousHolders.get(uid)) ? 0 : holders.size(), podKey);
      }
    }
    previousHolders = Map.of(); // only for the sources' first delivery: later, first seen is first served
    // Only the holder of a uid contributes volumes; a pod that becomes or stops being the holder is rebuilt.
    Set<String> recheck = new HashSet<>(changedPods);
    touchedUids.forEach(uid -> recheck.addAll(uidHolders.getOrDefault(uid, List.of())));
    for (String podKey : recheck) {
      Cached c = cache.get(podKey);
      if (c == null) {
        continue;
      }
      List<String> holders = uidHolders.get(c.result().uid());
      boolean holds = holders == null || holders.get(0).equals(podKey);
      if (holds && indexed.add(podKey)) {
        index(podKey, c, touchedVolumes);
      } else if (!holds && indexed.remove(podKey)) {
        unindex(podKey, c, touchedVolumes);
      }
      changedPods.add(podKey); // also a pod still waiting: the holder its error names may have changed
    }
    if (changedPods.isEmpty()) {
      return last;
    }
    // The volumes those pods use or used, from all the pods using them now; and every pod sharing one of them,
    // since which pod's spec wins (and which pods conflict with it) may have changed.
    HashMap<String, DesiredVolume> volumes = FrozenMap.mutableCopy(last.volumes());
    Set<String> podsToBuild = new HashSet<>(changedPods);
    for (String unique : touchedVolumes) {
      TreeSet<String> users = podsByVolume.get(unique);
      DesiredVolume v = users == null ? null : desiredVolume(unique, users);
      if (v == null) {
        volumes.remove(unique);
      } else {
        volumes.put(unique, v);
        podsToBuild.addAll(users);
      }
    }
    HashMap<String, PodVolumes> pods = FrozenMap.mutableCopy(last.pods());
    for (String podKey : podsToBuild) {
      Cached c = cache.get(podKey);
      if (c == null) {
        pods.remove(podKey);
      } else {
        pods.put(podKey, indexed.contains(podKey) ? podVolumes(c.result(), volumes) : uidTaken(c.result()));
      }
    }
    last = new DesiredStateOfWorld(FrozenMap.adopt(volumes), FrozenMap.adopt(pods));
    return last;
  }

  private void release(String uid, String podKey) {
    List<String> holders = uidHolders.get(uid);
    if (holders != null && holders.remove(podKey) && holders.isEmpty()) {
      uidHolders.remove(uid);
    }
  }

  /** A pod whose uid another pod holds: none of its volumes, and an error naming both pods and the uid. */
  private PodVolumes uidTaken(PodResolution r) {
    String holder = uidHolders.get(r.uid()).get(0);
    List<String> errors = new ArrayList<>();
    errors.add("pod " + r.podKey() + ": metadata.uid '" + r.uid() + "' is also the uid of pod " + holder
        + ", which holds it (seen first); a uid names the pod's directory pods/" + r.uid() + ", so this pod's volumes wait"
        + " until " + holder + " is gone (give each pod its own uid)");
    errors.addAll(r.errors());
    return new PodVolumes(r.uid(), r.podKey(), List.of(), Map.of(), errors, List.of(), r.notHandled());
  }

  private void index(String podKey, Cached c, Set<String> touched) {
    for (Resolved m : c.result().resolved()) {
      podsByVolume.computeIfAbsent(m.spec().uniqueName(), k -> new TreeSet<>()).add(podKey);
      touched.add(m.spec().uniqueName());
    }
  }

  private void unindex(String podKey, Cached c, Set<String> touched) {
    for (Resolved m : c.result().resolved()) {
      String unique = m.spec().uniqueName();
      TreeSet<String> users = podsByVolume.get(unique);
      if (users != null && users.remove(podKey) && users.isEmpty()) {
        podsByVolume.remove(unique);
      }
      touched.add(unique);
    }
  }

  /**
   * One volume from the pods using it, in pod key order: the first use gives the spec; a pod using it the other
   * way (a block device against a filesystem) is left out (and told so by {@link #podVolumes}).
   */
  private DesiredVolume desiredVolume(String unique, TreeSet<String> users) {
    VolumeSpec spec = null;
    Map<String, PodToMount> pods = new LinkedHashMap<>();
    for (String podKey : users) {
      PodResolution r = cache.get(podKey).result();
      for (Resolved m : r.resolved()) {
        if (!m.spec().uniqueName().equals(unique)) {
          continue;
        }
        if (spec == null) {
          spec = m.spec();
        }
        if (spec.block() == m.spec().block()) {
          pods.put(r.uid(), m.mount());
        }
      }
    }
    return spec == null ? null : new DesiredVolume(spec, pods);
  }

  private static PodVolumes podVolumes(PodResolution r, Map<String, DesiredVolume> volumes) {
    List<String> errors = new ArrayList<>(r.errors());
    List<String> names = new ArrayList<>();
    Map<String, String> podVolumeNames = new LinkedHashMap<>();
    for (Resolved m : r.resolved()) {
      DesiredVolume v = volumes.get(m.spec().uniqueName());
      if (v != null && v.spec().block() != m.spec().block()) {
        errors.add("pod " + r.podKey() + " volume " + m.volume() + ": volume " + m.spec().specName() + " is used as a block device and as a filesystem");
        continue;
      }
      names.add(m.spec().uniqueName());
      podVolumeNames.put(m.spec().uniqueName(), m.mount().podVolumeName());
    }
    return new PodVolumes(r.uid(), r.podKey(), names, podVolumeNames, errors, r.waiting(), r.notHandled());
  }
}
