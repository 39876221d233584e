package dev.csinode.agent.populator;

import dev.csinode.agent.util.Errors;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.volume.KubeletLayout;
import io.fabric8.kubernetes.api.model.CSIPersistentVolumeSource;
import io.fabric8.kubernetes.api.model.CSIVolumeSource;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Builds the desired state of world from the pod sources, as the kubelet's populator does: for each pod, each
 * volume a container uses is resolved (inline CSI, or claim → bound PV with {@code spec.csi}) into a
 * {@link VolumeSpec}; problems become pod errors naming the object and field; volume types this agent does
 * not handle are listed and skipped, and the pod's CSI volumes still proceed.
 */
public final class DesiredStateOfWorldPopulator {
  public DesiredStateOfWorldPopulator() {}

  /** One volume of one pod, resolved. */
  private record Mount(VolumeSpec spec, PodToMount pod, String where) {}

  /** Everything one pod contributes, before it is checked against the other pods. */
  private record PodResult(String uid, String podKey, List<Mount> mounts, List<String> errors, List<String> waiting,
                           List<String> notHandled) {}

  /** A pod's result and the objects it was resolved from, by identity: unchanged pods are not resolved again. */
  private record Cached(Pod pod, List<Lookups.Dep> deps, PodResult result) {}

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
      Cached next = new Cached(pod, recording.deps, resolvePodSafely(podKey, pod, recording));
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
    HashMap<String, DesiredVolume> volumes = new HashMap<>(last.volumes());
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
    HashMap<String, PodVolumes> pods = new HashMap<>(last.pods());
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
  private PodVolumes uidTaken(PodResult r) {
    String holder = uidHolders.get(r.uid()).get(0);
    List<String> errors = new ArrayList<>();
    errors.add("pod " + r.podKey() + ": metadata.uid '" + r.uid() + "' is also the uid of pod " + holder
        + ", which holds it (seen first); a uid names the pod's directory pods/" + r.uid() + ", so this pod's volumes wait"
        + " until " + holder + " is gone (give each pod its own uid)");
    errors.addAll(r.errors());
    return new PodVolumes(r.uid(), r.podKey(), List.of(), Map.of(), errors, List.of(), r.notHandled());
  }

  private void index(String podKey, Cached c, Set<String> touched) {
    for (Mount m : c.result().mounts()) {
      podsByVolume.computeIfAbsent(m.spec().uniqueName(), k -> new TreeSet<>()).add(podKey);
      touched.add(m.spec().uniqueName());
    }
  }

  private void unindex(String podKey, Cached c, Set<String> touched) {
    for (Mount m : c.result().mounts()) {
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
      PodResult r = cache.get(podKey).result();
      for (Mount m : r.mounts()) {
        if (!m.spec().uniqueName().equals(unique)) {
          continue;
        }
        if (spec == null) {
          spec = m.spec();
        }
        if (spec.block() == m.spec().block()) {
          pods.put(r.uid(), m.pod());
        }
      }
    }
    return spec == null ? null : new DesiredVolume(spec, pods);
  }

  private static PodVolumes podVolumes(PodResult r, Map<String, DesiredVolume> volumes) {
    List<String> errors = new ArrayList<>(r.errors());
    List<String> names = new ArrayList<>();
    Map<String, String> podVolumeNames = new LinkedHashMap<>();
    for (Mount m : r.mounts()) {
      DesiredVolume v = volumes.get(m.spec().uniqueName());
      if (v != null && v.spec().block() != m.spec().block()) {
        errors.add(m.where() + ": volume " + m.spec().specName() + " is used as a block device and as a filesystem");
        continue;
      }
      names.add(m.spec().uniqueName());
      podVolumeNames.put(m.spec().uniqueName(), m.pod().podVolumeName());
    }
    return new PodVolumes(r.uid(), r.podKey(), names, podVolumeNames, errors, r.waiting(), r.notHandled());
  }

  /** {@link #resolvePod}, with anything unforeseen in the pod object made the pod's error: the other pods still count. */
  private static PodResult resolvePodSafely(String podKey, Pod pod, Lookups objects) {
    try {
      return resolvePod(pod, objects);
    } catch (RuntimeException e) {
      String uid = pod.getMetadata() == null || pod.getMetadata().getUid() == null ? "" : pod.getMetadata().getUid();
      return new PodResult(uid, podKey, List.of(), List.of("pod " + podKey + " cannot be evaluated: " + Errors.describe(e)), List.of(), List.of());
    }
  }


  private static PodResult resolvePod(Pod pod, Lookups objects) {
    String podKey = ClusterObjects.key(pod);
    String uid = pod.getMetadata().getUid();
    List<String> errors = new ArrayList<>();
    List<String> waiting = new ArrayList<>();
    List<String> notHandled = new ArrayList<>();
    List<Mount> mounts = new ArrayList<>();
    if (!KubeletLayout.isValidUid(uid)) {
      errors.add("pod " + podKey + ": metadata.uid '" + uid + "' is missing or not usable as a directory name");
      return new PodResult(uid == null ? "" : uid, podKey, mounts, errors, waiting, notHandled);
    }
    Set<String> mounted = new HashSet<>();
    Set<String> devices = new HashSet<>();
    containers(pod).forEach(c -> {
      if (c != null && c.getVolumeMounts() != null) {
        c.getVolumeMounts().forEach(m -> mounted.add(m == null ? null : m.getName()));
      }
      if (c != null && c.getVolumeDevices() != null) {
        c.getVolumeDevices().forEach(d -> devices.add(d == null ? null : d.getName()));
      }
    });
    List<Volume> volumes = pod.getSpec() == null || pod.getSpec().getVolumes() == null ? List.of() : pod.getSpec().getVolumes();
    var security = pod.getSpec() == null ? null : pod.getSpec().getSecurityContext();
    for (int i = 0; i < volumes.size(); i++) {
      Volume vol = volumes.get(i);
      if (vol == null || vol.getName() == null || vol.getName().isEmpty()) {
        errors.add("pod " + podKey + ": spec.volumes[" + i + "] " + (vol == null ? "is null" : "has no name"));
        continue;
      }
      if (!mounted.contains(vol.getName()) && !devices.contains(vol.getName())) {
        continue; // the kubelet only mounts volumes a container uses
      }
      String where = "pod " + podKey + " volume " + vol.getName();
      try {
        Resolved r = resolve(pod, vol, devices.contains(vol.getName()), objects, where);
        if (r == null) {
          notHandled.add(vol.getName() + " (" + typeOf(vol) + ": not handled by this agent)");
          continue;
        }
        mounts.add(new Mount(r.spec(), new PodToMount(uid, podKey, ClusterObjects.namespaceOf(pod), pod.getMetadata().getName(),
            serviceAccount(pod), vol.getName(), r.readOnly(), security == null ? null : security.getFsGroup(),
            security == null ? null : security.getFsGroupChangePolicy()), where));
      } catch (ResolveException e) {
        (e.inProgress ? waiting : errors).add(e.getMessage());
      } catch (RuntimeException e) {
        errors.add(where + ": cannot be evaluated: " + Errors.describe(e)); // the pod's other volumes still count
      }
    }
    return new PodResult(uid, podKey, List.copyOf(mounts), List.copyOf(errors), List.copyOf(waiting), List.copyOf(notHandled));
  }

  /**
   * The objects a pod's resolution looks up. With a {@code deps} list it records each lookup and what it found,
   * so {@link #unchanged} can later tell whether a new set of objects would give the same answers.
   */
  static final class Lookups {
    enum Kind { DRIVER, CLAIM, VOLUME, SECRET, PROBLEM }

    record Dep(Kind kind, String key, Object found) {}

    private final ClusterObjects objects;
    private final Map<String, String> problems;
    private final Map<String, String> retries;
    final List<Dep> deps;

    Lookups(ClusterObjects objects, Map<String, String> problems, Map<String, String> retries, List<Dep> deps) {
      this.objects = objects;
      this.problems = problems;
      this.retries = retries;
      this.deps = deps;
    }

    private Object find(Kind kind, String key) {
      return switch (kind) {
        case DRIVER -> objects.csiDrivers().get(key);
        case CLAIM -> objects.claims().get(key);
        case VOLUME -> objects.volumes().get(key);
        case SECRET -> objects.secrets().get(key);
        case PROBLEM -> problems.containsKey(key) ? new ClaimProblem(problems.get(key), false)
            : retries.containsKey(key) ? new ClaimProblem(retries.get(key), true) : null;
      };
    }

    private Object lookup(Kind kind, String key) {
      Object found = find(kind, key);
      if (deps != null) {
        deps.add(new Dep(kind, key, found));
      }
      return found;
    }

    /** Same instances (claim problems: equal text) for every lookup recorded of these kinds. */
    boolean unchanged(List<Dep> recorded, Set<Kind> kinds) {
      for (Dep d : recorded) {
        if (!kinds.contains(d.kind())) {
          continue;
        }
        Object now = find(d.kind(), d.key());
        if (d.kind() == Kind.PROBLEM ? !java.util.Objects.equals(now, d.found()) : now != d.found()) {
          return false;
        }
      }
      return true;
    }

    CSIDriver driver(String name) {
      return (CSIDriver) lookup(Kind.DRIVER, name);
    }

    java.util.Optional<PersistentVolumeClaim> claim(String namespace, String name) {
      return java.util.Optional.ofNullable((PersistentVolumeClaim) lookup(Kind.CLAIM, namespace + "/" + name));
    }

    PersistentVolume volume(String name) {
      return (PersistentVolume) lookup(Kind.VOLUME, name);
    }

    boolean hasSecret(String namespace, String name) {
      return lookup(Kind.SECRET, namespace + "/" + name) != null;
    }

    /** Why a claim has no volume yet (from the provisioner), or null while it is simply being provisioned. */
    ClaimProblem claimProblem(String key) {
      return (ClaimProblem) lookup(Kind.PROBLEM, key);
    }
  }

  record Resolved(VolumeSpec spec, boolean readOnly) {}

  /** Why a claim is not provisioned: an error only a change of objects fixes, or a failure being retried. */
  record ClaimProblem(String text, boolean retrying) {}

  static final class ResolveException extends Exception {
    /** Something the agent is doing will resolve it (a claim being provisioned): not an error to report. */
    final boolean inProgress;

    ResolveException(String message) {
      this(message, false);
    }

    ResolveException(String message, boolean inProgress) {
      super(message);
      this.inProgress = inProgress;
    }
  }

  private static Resolved resolve(Pod pod, Volume vol, boolean asDevice, Lookups objects, String where) throws ResolveException {
    if (vol.getCsi() != null) {
      return inline(pod, vol, vol.getCsi(), objects, where);
    }
    if (vol.getPersistentVolumeClaim() != null) {
      String claimName = vol.getPersistentVolumeClaim().getClaimName();
      boolean ro = Boolean.TRUE.equals(vol.getPersistentVolumeClaim().getReadOnly());
      return claim(ClusterObjects.namespaceOf(pod), claimName, ro, asDevice, objects, where);
    }
    if (vol.getEphemeral() != null) {
      // A generic ephemeral volume is an ordinary claim named <pod>-<volume>, made from the template. Pod "a-b" with
      // volume "c" and pod "a" with volume "b-c" name the same claim, and a claim of that name may exist already:
      // as the kubelet does, only a claim the pod controls is used.
      String namespace = ClusterObjects.namespaceOf(pod);
      String claimName = pod.getMetadata().getName() + "-" + vol.getName();
      PersistentVolumeClaim pvc = objects.claim(namespace, claimName).orElse(null);
      if (pvc != null && !controlledBy(pvc, pod)) {
        throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " was not created for pod "
            + ClusterObjects.key(pod) + " (the pod is not its owner); the generic ephemeral volume " + vol.getName()
            + " needs that claim name: rename or remove the claim, or rename the pod or the volume");
      }
      return claim(namespace, claimName, false, asDevice, objects, where);
    }
    return null;
  }

  /** The pod is the claim's controller (metadata.ownerReferences, controller: true, the pod's uid). */
  private static boolean controlledBy(PersistentVolumeClaim pvc, Pod pod) {
    var owners = pvc.getMetadata().getOwnerReferences();
    return owners != null && owners.stream().anyMatch(o -> Boolean.TRUE.equals(o.getController())
        && pod.getMetadata().getUid().equals(o.getUid()));
  }

  private static Resolved inline(Pod pod, Volume vol, CSIVolumeSource csi, Lookups objects, String where) throws ResolveException {
    String driver = csi.getDriver();
    if (driver == null || driver.isEmpty()) {
      throw new ResolveException(where + ": csi.driver is required");
    }
    validDriver(driver, where + ": csi.driver");
    if (!KubeletLayout.isValidName(vol.getName())) {
      throw new ResolveException(where + ": the volume name is not usable as a directory name");
    }
    CSIDriver d = withSpec(objects.driver(driver), where);
    List<String> modes = d == null || d.getSpec().getVolumeLifecycleModes() == null ? List.of("Persistent") : d.getSpec().getVolumeLifecycleModes();
    if (!modes.contains("Ephemeral")) {
      throw new ResolveException(where + ": inline CSI volumes of driver " + driver + " need a CSIDriver object named "
          + driver + " that lists Ephemeral in spec.volumeLifecycleModes");
    }
    String uid = pod.getMetadata().getUid();
    VolumeSpec.SecretRef publishSecret = csi.getNodePublishSecretRef() == null ? null
        : new VolumeSpec.SecretRef(ClusterObjects.namespaceOf(pod), csi.getNodePublishSecretRef().getName());
    VolumeSpec spec = new VolumeSpec(KubeletLayout.uniqueInlineVolumeName(uid, vol.getName()), driver,
        KubeletLayout.inlineVolumeHandle(uid, vol.getName()), vol.getName(), true, false,
        csi.getFsType() == null ? "" : csi.getFsType(), List.of(), "ReadWriteOnce",
        noNulls(csi.getVolumeAttributes(), where + ": csi.volumeAttributes"), null, publishSecret,
        false, podInfoOnMount(d), fsGroupPolicy(d), null, null);
    checkSecret(publishSecret, objects, where + ": csi.nodePublishSecretRef");
    return new Resolved(spec, Boolean.TRUE.equals(csi.getReadOnly()));
  }

  private static Resolved claim(String namespace, String claimName, boolean readOnly, boolean asDevice, Lookups objects,
                                String where) throws ResolveException {
    PersistentVolumeClaim pvc = objects.claim(namespace, claimName).orElseThrow(() ->
        new ResolveException(where + ": persistentVolumeClaim.claimName " + namespace + "/" + claimName + " does not exist"));
    String pvName = pvc.getSpec() == null ? null : pvc.getSpec().getVolumeName();
    if (pvName == null || pvName.isEmpty()) {
      ClaimProblem why = objects.claimProblem(namespace + "/" + claimName);
      throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " is not bound to a PersistentVolume yet"
          + (why == null ? " (provisioning)" : why.retrying() ? " (provisioning; " + why.text() + ")" : ": " + why.text()),
          why == null || why.retrying());
    }
    PersistentVolume pv = objects.volume(pvName);
    if (pv == null) {
      throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " is bound to PersistentVolume "
          + pvName + ", which does not exist");
    }
    if (pv.getSpec().getClaimRef() != null && pv.getSpec().getClaimRef().getName() != null
        && !(claimName.equals(pv.getSpec().getClaimRef().getName())
        && namespace.equals(pv.getSpec().getClaimRef().getNamespace() == null ? "default" : pv.getSpec().getClaimRef().getNamespace()))) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " is bound to claim "
          + pv.getSpec().getClaimRef().getNamespace() + "/" + pv.getSpec().getClaimRef().getName() + ", not to " + namespace + "/" + claimName);
    }
    CSIPersistentVolumeSource csi = pv.getSpec().getCsi();
    if (csi == null) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " is not a CSI volume (spec.csi is empty); "
          + "this agent handles CSI volumes only");
    }
    validDriver(csi.getDriver(), where + ": PersistentVolume " + pvName + " spec.csi.driver");
    if (csi.getVolumeHandle() == null || csi.getVolumeHandle().isEmpty()) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " spec.csi.volumeHandle is required");
    }
    if (!KubeletLayout.isValidName(pvName)) {
      throw new ResolveException(where + ": PersistentVolume name " + pvName + " is not usable as a directory name");
    }
    boolean block = "Block".equals(pv.getSpec().getVolumeMode());
    if (block != asDevice) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " has volumeMode " + (block ? "Block" : "Filesystem")
          + " but the pod uses it " + (asDevice ? "in volumeDevices" : "in volumeMounts"));
    }
    CSIDriver d = withSpec(objects.driver(csi.getDriver()), where);
    VolumeSpec.SecretRef stage = ref(csi.getNodeStageSecretRef());
    VolumeSpec.SecretRef publish = ref(csi.getNodePublishSecretRef());
    checkSecret(stage, objects, where + ": PersistentVolume " + pvName + " spec.csi.nodeStageSecretRef");
    checkSecret(publish, objects, where + ": PersistentVolume " + pvName + " spec.csi.nodePublishSecretRef");
    List<String> modes = pv.getSpec().getAccessModes() == null ? List.of() : pv.getSpec().getAccessModes();
    VolumeSpec spec = new VolumeSpec(KubeletLayout.uniqueVolumeName(csi.getDriver(), csi.getVolumeHandle()), csi.getDriver(),
        csi.getVolumeHandle(), pvName, false, block, csi.getFsType() == null ? "" : csi.getFsType(),
        noNulls(pv.getSpec().getMountOptions(), where + ": PersistentVolume " + pvName + " spec.mountOptions"),
        modes.isEmpty() || modes.get(0) == null ? "" : modes.get(0),
        noNulls(csi.getVolumeAttributes(), where + ": PersistentVolume " + pvName + " spec.csi.volumeAttributes"), stage, publish,
        d == null || d.getSpec().getAttachRequired() == null || d.getSpec().getAttachRequired(),
        podInfoOnMount(d), fsGroupPolicy(d), pvName, namespace + "/" + claimName);
    return new Resolved(spec, readOnly || Boolean.TRUE.equals(csi.getReadOnly()));
  }

  private static CSIDriver withSpec(CSIDriver d, String where) throws ResolveException {
    if (d != null && d.getSpec() == null) {
      throw new ResolveException(where + ": CSIDriver " + d.getMetadata().getName() + " has no spec");
    }
    return d;
  }

  /** The map, or empty for none; a null key or value is an error naming the field (CSI has no null strings). */
  private static Map<String, String> noNulls(Map<String, String> m, String field) throws ResolveException {
    if (m == null) {
      return Map.of();
    }
    for (var e : m.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new ResolveException(field + "." + e.getKey() + " has no value");
      }
    }
    return m;
  }

  private static List<String> noNulls(List<String> l, String field) throws ResolveException {
    if (l == null) {
      return List.of();
    }
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i) == null) {
        throw new ResolveException(field + "[" + i + "] is null");
      }
    }
    return l;
  }

  private static void validDriver(String driver, String field) throws ResolveException {
    try {
      KubeletLayout.requireDriver(driver);
    } catch (IllegalArgumentException e) {
      throw new ResolveException(field + ": " + e.getMessage());
    }
  }

  private static VolumeSpec.SecretRef ref(SecretReference r) {
    return r == null || r.getName() == null ? null
        : new VolumeSpec.SecretRef(r.getNamespace() == null ? "default" : r.getNamespace(), r.getName());
  }

  private static void checkSecret(VolumeSpec.SecretRef ref, Lookups objects, String field) throws ResolveException {
    if (ref != null && !objects.hasSecret(ref.namespace(), ref.name())) {
      throw new ResolveException(field + " names Secret " + ref + ", which does not exist");
    }
  }

  private static boolean podInfoOnMount(CSIDriver d) {
    return d != null && Boolean.TRUE.equals(d.getSpec().getPodInfoOnMount());
  }

  private static String fsGroupPolicy(CSIDriver d) {
    return d == null || d.getSpec().getFsGroupPolicy() == null ? "ReadWriteOnceWithFSType" : d.getSpec().getFsGroupPolicy();
  }

  private static String serviceAccount(Pod pod) {
    String sa = pod.getSpec().getServiceAccountName();
    return sa == null || sa.isEmpty() ? "default" : sa;
  }

  private static Stream<Container> containers(Pod pod) {
    if (pod.getSpec() == null) {
      return Stream.empty();
    }
    return Stream.concat(pod.getSpec().getContainers() == null ? Stream.empty() : pod.getSpec().getContainers().stream(),
        pod.getSpec().getInitContainers() == null ? Stream.empty() : pod.getSpec().getInitContainers().stream());
  }

  private static String typeOf(Volume v) {
    if (v.getEmptyDir() != null) return "emptyDir";
    if (v.getHostPath() != null) return "hostPath";
    if (v.getConfigMap() != null) return "configMap";
    if (v.getSecret() != null) return "secret";
    if (v.getProjected() != null) return "projected";
    if (v.getNfs() != null) return "nfs";
    if (v.getDownwardAPI() != null) return "downwardAPI";
    return "volume type";
  }
}
