package dev.csinode.agent.provisioner;

import java.util.function.Function;
import java.util.Optional;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.agent.volume.AccessModes;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.util.Errors;
import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.volume.KubeletLayout;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Predicate;

/**
 * Binds claims to the volumes the agent provisioned for them, as the PV controller would, and says which claims need
 * a volume created: no I/O, no clock, no threads. A claim with a {@code volumeName} is left as it is; one without is
 * bound to {@code pvc-<claim uid>} when that volume exists, else it gets a {@link Provisioner.Creation} (its
 * StorageClass's driver, size, access modes, volume mode, parameters, checked field by field) or an error naming the
 * object and field. Generic ephemeral volumes become claims named {@code <pod>-<volume>} owned by their pod. A claim
 * binds to {@code pvc-<uid>} only when that volume's claimRef names it: two claims given one uid (by their manifests,
 * or by their pods' for ephemeral ones) get an error instead of each other's volume.
 *
 * <p>Incremental: a claim is evaluated again only when it may bind otherwise: its object is another instance than at
 * the last call (or it came or went), or the provisioned volume it would bind to, {@code pvc-<claim uid>}, came, went
 * or is another instance. A volume provisioned among a thousand claims costs one claim's evaluation, not a thousand.
 * The claims still without a volume are looked at on every call (their class or driver may have come). Maps that did
 * not change are handed on as the same instances, so the populator after it sees unchanged objects. One caller at a
 * time.
 */
public final class ClaimBinder {
  /** What one {@link #bind} found. {@code toCreate}: the claims that may get a volume now, in the order seen. */
  public record Result(ClusterObjects objects, Map<String, PersistentVolumeClaim> claims, Map<String, String> errors,
                       List<Provisioner.Creation> toCreate, List<Provisioned> releasable, Set<String> unbound) {}

  /** A claim bound to a PV the provisioner made, and the bound copy handed downstream. */
  private record Bound(PersistentVolumeClaim claim, PersistentVolume pv, PersistentVolumeClaim copy) {}

  /** A pod's generic ephemeral claims, and the pod object they were made from. */
  private record Ephemeral(Pod pod, List<PersistentVolumeClaim> claims) {}

  /** A claim without a volumeName and the PersistentVolume it binds to ({@link #pvName}, a hash: computed once). */
  private record Wants(PersistentVolumeClaim claim, String pvName) {}

  private Map<String, PersistentVolumeClaim> lastSourceClaims;
  private List<PersistentVolumeClaim> lastEphemeralClaims;
  private Map<String, Provisioned> lastProvisioned = Map.of();
  /** The claims to evaluate, by {@code namespace/name}: the sources' first, then the ephemeral ones not shadowed. */
  private Map<String, PersistentVolumeClaim> candidates = Map.of();
  /** The claims of the last evaluation, bound where they can be, by {@code namespace/name}: the wanted claims. */
  private Map<String, PersistentVolumeClaim> claims = Map.of();
  private final Map<String, Bound> bound = new HashMap<>();
  /** Claims of the last evaluation with no volume yet, by {@code namespace/name}, in the order seen. */
  private final Map<String, PersistentVolumeClaim> unbound = new LinkedHashMap<>();
  /**
   * Claims that cannot be evaluated at all (their evaluation threw), or whose volume {@code pvc-<uid>} is another
   * claim's: kept until they are evaluated again (the claim or that volume changes).
   */
  private final Map<String, String> evaluationErrors = new HashMap<>();
  /** The claims without a volumeName, by key: the volume each would bind to. */
  private final Map<String, Wants> wants = new HashMap<>();
  /** Which claims would bind to each PersistentVolume name: the ones a change of that volume is evaluated again for. */
  private final Map<String, Set<String>> claimsByPvName = new HashMap<>();
  /** By pod key, in the order the pods were first seen. */
  private final Map<String, Ephemeral> ephemeral = new LinkedHashMap<>();
  private Map<String, Pod> lastPods;
  private List<PersistentVolumeClaim> lastEphemeralList = List.of();
  /**
   * Claims seen since start: only a claim seen and then gone releases its volume (never one merely not seen yet).
   * Asked only of a provisioned volume's claim, so a claim gone is kept only while that can be asked of it: while a
   * volume names it ({@link #volumesByClaim}) or one may still be made for it ({@link #creating}).
   */
  private final Set<String> seenClaims = new HashSet<>();
  /** The provisioned volumes by the claim their claimRef names ({@code namespace/name}). */
  private final Map<String, Set<String>> volumesByClaim = new HashMap<>();
  /**
   * Volumes a claim gone (or now wanting another) asked for whose CreateVolume still ran when it went, by
   * PersistentVolume name: the volume is recorded when it completes, and its claim must still count as seen then.
   */
  private final Map<String, String> creatingForGone = new HashMap<>();
  /** Whether the CreateVolume of this PersistentVolume name runs now (the provisioner's executor). */
  private final Predicate<String> creating;
  private Map<String, PersistentVolume> lastSourceVolumes;
  private Map<String, PersistentVolume> lastVolumes = Map.of();
  private Map<String, Provisioned> lastVolumesProvisioned;
  private Map<String, PersistentVolumeClaim> releasableClaims;
  private Map<String, Provisioned> releasableProvisioned;
  private List<Provisioned> releasable = List.of();
  /** The request each unbound claim makes, kept while its claim and class objects are the same instances. */
  private final Map<String, Request> requests = new HashMap<>();
  /** Claims evaluated since start: what the tests check that a change costs. */
  private long evaluations;

  private record Request(PersistentVolumeClaim claim, StorageClass storageClass, boolean singleNodeMultiWriter,
                         Provisioner.Creation creation) {}

  /** A binder whose caller runs no CreateVolume between its calls (a volume asked for exists at the next call, or never). */
  public ClaimBinder() {
    this(pvName -> false);
  }

  /**
   * @param creating whether the CreateVolume of a PersistentVolume name runs now: its volume may be recorded after
   *     its claim went, and then that claim counts as seen
   */
  public ClaimBinder(Predicate<String> creating) {
    this.creating = creating;
  }

  /**
   * @param provisioned the volumes this agent provisioned, by PersistentVolume name (a new instance when it changes)
   * @param drivers the CSI driver of that name registered now, if any (its node capabilities choose the access mode)
   */
  public Result bind(ClusterObjects sources, Map<String, Provisioned> provisioned,
                     Function<String, Optional<RegisteredDriver>> drivers) {
    Map<String, PersistentVolumeClaim> sourceClaims = sources.claims();
    List<PersistentVolumeClaim> ephemeralClaims = ephemeralClaims(sources.pods(), provisioned);
    // The claims to evaluate again, in the order seen (sources' claims first), so the unbound ones queue in that order.
    Set<String> dirty = new LinkedHashSet<>();
    if (sourceClaims != lastSourceClaims || ephemeralClaims != lastEphemeralClaims) {
      Map<String, PersistentVolumeClaim> next = candidates(sourceClaims, ephemeralClaims);
      next.forEach((key, c) -> {
        if (candidates.get(key) != c) {
          dirty.add(key);
        }
      });
      candidates.forEach((key, c) -> {
        if (!next.containsKey(key)) {
          dirty.add(key);
        }
      });
      candidates = next;
      lastSourceClaims = sourceClaims;
      lastEphemeralClaims = ephemeralClaims;
    }
    Set<String> mayBeUnneeded = new HashSet<>();
    if (provisioned != lastProvisioned) {
      for (String name : changedVolumes(lastProvisioned, provisioned)) {
        dirty.addAll(claimsByPvName.getOrDefault(name, Set.of()));
        indexVolume(name, lastProvisioned.get(name), provisioned.get(name), mayBeUnneeded);
      }
      lastProvisioned = provisioned;
    }
    if (!creatingForGone.isEmpty()) { // a CreateVolume that ended without a volume leaves none to ask about
      creatingForGone.entrySet().removeIf(e -> {
        boolean ended = !provisioned.containsKey(e.getKey()) && !creating.test(e.getKey());
        if (ended) {
          mayBeUnneeded.add(e.getValue());
        }
        return ended;
      });
    }
    if (!dirty.isEmpty()) {
      HashMap<String, PersistentVolumeClaim> next = null;
      for (String key : dirty) {
        PersistentVolumeClaim before = claims.get(key);
        PersistentVolumeClaim after = reevaluate(key, candidates.get(key), provisioned);
        if (after != before) {
          next = next == null ? FrozenMap.mutableCopy(claims) : next;
          if (after == null) {
            next.remove(key);
          } else {
            next.put(key, after);
          }
        }
      }
      if (next != null) {
        claims = FrozenMap.adopt(next);
      }
    }
    mayBeUnneeded.forEach(this::unseeIfUnasked);
    // The claims still without a volume are looked at on every call: their class or their driver may have come.
    Map<String, String> errors = new HashMap<>(evaluationErrors);
    List<Provisioner.Creation> toCreate = new ArrayList<>();
    unbound.forEach((key, c) -> {
      if (evaluationErrors.containsKey(key)) {
        return;
      }
      Wants w = wants.get(key);
      Set<String> sharing = w == null ? Set.of() : claimsByPvName.getOrDefault(w.pvName(), Set.of());
      if (sharing.size() > 1) { // none has its volume yet; whichever got it first, the other would bind it too
        errors.put(key, "claim " + key + " has the uid of claim " + String.join(", ", new TreeSet<>(sharing).stream()
            .filter(k -> !k.equals(key)).toList()) + ": both would get PersistentVolume " + w.pvName() + "; give each claim "
            + "a uid of its own (metadata.uid; for a generic ephemeral volume, its pod's)");
        return;
      }
      try {
        toCreate.add(creation(key, c, sources, drivers));
      } catch (Provisioner.InvalidClaim e) {
        errors.put(key, e.getMessage());
      } catch (RuntimeException e) {
        errors.put(key, "claim " + key + " cannot be provisioned: " + Errors.describe(e));
      }
    });
    if (claims != releasableClaims || provisioned != releasableProvisioned) {
      releasable = provisioned.values().stream().filter(p -> !claims.containsKey(p.claim()) || p.released()).toList();
      releasableClaims = claims;
      releasableProvisioned = provisioned;
    }
    ClusterObjects effective = new ClusterObjects(sources.pods(), claims, volumes(sources.volumes(), provisioned),
        sources.storageClasses(), sources.csiDrivers(), sources.secrets(), sources.errors());
    return new Result(effective, claims, Map.copyOf(errors), List.copyOf(toCreate), releasable, Set.copyOf(unbound.keySet()));
  }

  /** How many claims were evaluated since this binder was made. */
  long evaluations() {
    return evaluations;
  }

  /** The sources' claims, then the ephemeral claims of keys not taken yet (the first of a key wins), in that order. */
  private static Map<String, PersistentVolumeClaim> candidates(Map<String, PersistentVolumeClaim> sourceClaims,
                                                               List<PersistentVolumeClaim> ephemeralClaims) {
    if (ephemeralClaims.isEmpty()) {
      return sourceClaims;
    }
    LinkedHashMap<String, PersistentVolumeClaim> m = new LinkedHashMap<>(sourceClaims);
    for (PersistentVolumeClaim c : ephemeralClaims) {
      m.putIfAbsent(ClusterObjects.key(c), c);
    }
    return m;
  }

  /** The names of the volumes that came, went or are another instance: by identity, no evaluation. */
  private static Set<String> changedVolumes(Map<String, Provisioned> before, Map<String, Provisioned> after) {
    Set<String> changed = new HashSet<>();
    after.forEach((name, p) -> {
      if (before.get(name) != p) {
        changed.add(name);
      }
    });
    if (before.size() + changed.size() > after.size()) { // else every name before is still there
      before.forEach((name, p) -> {
        if (!after.containsKey(name)) {
          changed.add(name);
        }
      });
    }
    return changed;
  }

  /**
   * Evaluates one claim again ({@code c} null: it is gone), keeping the indexes in step; returns what is handed
   * downstream for it, or null.
   */
  private PersistentVolumeClaim reevaluate(String key, PersistentVolumeClaim c, Map<String, Provisioned> provisioned) {
    Wants w = wants.remove(key);
    if (w != null) {
      Set<String> keys = claimsByPvName.get(w.pvName());
      if (keys != null && keys.remove(key) && keys.isEmpty()) {
        claimsByPvName.remove(w.pvName());
      }
    }
    evaluationErrors.remove(key);
    try {
      if (c == null) {
        wantsNoVolume(key);
        return null;
      }
      evaluations++;
      try {
        return evaluate(key, c, w != null && w.claim() == c ? w.pvName() : null, provisioned);
      } catch (RuntimeException e) {
        bound.remove(key);
        unbound.put(key, c);
        evaluationErrors.put(key, "claim " + key + " cannot be evaluated: " + Errors.describe(e));
        return c;
      }
    } finally {
      Wants now = wants.get(key);
      if (w != null && (now == null || !now.pvName().equals(w.pvName())) && !provisioned.containsKey(w.pvName())
          && creating.test(w.pvName())) {
        creatingForGone.put(w.pvName(), key); // its volume may be recorded yet, naming this claim
      }
      if (c == null) {
        unseeIfUnasked(key);
      }
    }
  }

  /** Keeps {@link #volumesByClaim} in step with one provisioned volume that came, went or changed. */
  private void indexVolume(String name, Provisioned before, Provisioned after, Set<String> mayBeUnneeded) {
    if (before != null && (after == null || !before.claim().equals(after.claim()))) {
      Set<String> names = volumesByClaim.get(before.claim());
      if (names != null && names.remove(name) && names.isEmpty()) {
        volumesByClaim.remove(before.claim());
        mayBeUnneeded.add(before.claim());
      }
    }
    if (after != null) {
      volumesByClaim.computeIfAbsent(after.claim(), k -> new HashSet<>(2)).add(name);
      creatingForGone.remove(name); // made: its claim is held by the volume now
    }
  }

  /**
   * Forgets that a claim was seen once nothing can ask any more: it is gone, no provisioned volume names it and no
   * CreateVolume of one for it runs. {@link #seen} is asked only of a provisioned volume's claim, so this changes no
   * answer; it keeps the set from growing with every claim that went without a volume.
   */
  private void unseeIfUnasked(String key) {
    if (!candidates.containsKey(key) && !volumesByClaim.containsKey(key) && !creatingForGone.containsValue(key)) {
      seenClaims.remove(key);
    }
  }

  /** How many claims are remembered as seen: for the test that their number is bounded. */
  int seenCount() {
    return seenClaims.size();
  }

  /** Whether the claim was seen since start: only then does its going release its volume. */
  public boolean seen(String claimKey) {
    return seenClaims.contains(claimKey);
  }

  /**
   * A deleted volume's claim is forgotten: should it come back, it is a new claim. One that is back already (a new
   * claim under the name while the old volume's DeleteVolume ran) was seen as it is now and stays seen: evaluation is
   * incremental, so nothing would see it again, and its own volume would be kept as "never seen" when it goes.
   */
  public void forget(String claimKey) {
    if (!candidates.containsKey(claimKey)) {
      seenClaims.remove(claimKey);
    }
  }

  /** The claim as handed downstream: bound to its provisioned volume when there is one. */
  private PersistentVolumeClaim evaluate(String key, PersistentVolumeClaim c, String knownPvName, Map<String, Provisioned> provisioned) {
    seenClaims.add(key);
    String volumeName = c.getSpec() == null ? null : c.getSpec().getVolumeName();
    if (volumeName != null && !volumeName.isEmpty()) {
      wantsNoVolume(key);
      return c;
    }
    String pvName = knownPvName != null ? knownPvName : pvName(c);
    wants.put(key, new Wants(c, pvName));
    claimsByPvName.computeIfAbsent(pvName, k -> new HashSet<>(2)).add(key);
    // The same bound copy while neither claim nor PV changes, so the populator sees an unchanged object.
    Bound b = bound.get(key);
    Provisioned p = provisioned.get(pvName);
    if (p == null) {
      bound.remove(key);
      unbound.put(key, c);
      return c;
    }
    if (!p.claim().equals(key)) { // another claim with the same uid: its volume, which the kubelet would refuse to mount here
      bound.remove(key);
      unbound.put(key, c);
      evaluationErrors.put(key, "claim " + key + " has the uid of claim " + p.claim() + ", whose PersistentVolume " + pvName
          + " it would bind; give each claim a uid of its own (metadata.uid; for a generic ephemeral volume, its pod's)");
      return c;
    }
    if (b == null || b.claim() != c || b.pv() != p.pv()) {
      b = new Bound(c, p.pv(), new PersistentVolumeClaimBuilder(c).editSpec().withVolumeName(p.name()).endSpec().build());
      bound.put(key, b);
    }
    unbound.remove(key);
    requests.remove(key);
    return b.copy();
  }

  /** The claim is gone, or names its volume itself: nothing of the binder's own volume for it is kept. */
  private void wantsNoVolume(String key) {
    bound.remove(key);
    unbound.remove(key);
    requests.remove(key);
  }

  /** The CreateVolume a claim without a volume asks for, or why it cannot ask for one (naming the object and field). */
  private Provisioner.Creation creation(String key, PersistentVolumeClaim c, ClusterObjects objects,
                                       Function<String, Optional<RegisteredDriver>> drivers) {
    String className = c.getSpec() == null ? null : c.getSpec().getStorageClassName();
    if (className == null || className.isEmpty()) {
      throw new Provisioner.InvalidClaim("claim " + key + " has no volumeName and no storageClassName; nothing can bind or provision it");
    }
    StorageClass sc = objects.storageClasses().get(className);
    if (sc == null) {
      throw new Provisioner.InvalidClaim("claim " + key + " asks for StorageClass " + className + ", which does not exist");
    }
    if (sc.getProvisioner() == null || sc.getProvisioner().isEmpty()) {
      throw new Provisioner.InvalidClaim("StorageClass " + className + " (of claim " + key + "): provisioner is empty");
    }
    Optional<RegisteredDriver> driver = drivers.apply(sc.getProvisioner());
    if (driver.isEmpty()) {
      throw new Provisioner.InvalidClaim("StorageClass " + className + " names provisioner " + sc.getProvisioner()
          + ", which is not a registered CSI driver (yet)");
    }
    Request r = requests.get(key);
    // CreateVolume asks for the access mode NodeStage will ask for: the kubelet's mapping for this driver.
    boolean singleNodeMultiWriter = driver.get().hasNodeCapability(AccessModes.SINGLE_NODE_MULTI_WRITER);
    if (r == null || r.claim() != c || r.storageClass() != sc || r.singleNodeMultiWriter() != singleNodeMultiWriter) {
      r = new Request(c, sc, singleNodeMultiWriter, Provisioner.creation(key, pvName(c), c, sc, singleNodeMultiWriter));
      requests.put(key, r);
    }
    return r.creation();
  }

  /** The sources' volumes and the provisioned ones (a source's volume of the same name wins); rebuilt on change only. */
  private Map<String, PersistentVolume> volumes(Map<String, PersistentVolume> sourceVolumes, Map<String, Provisioned> provisioned) {
    if (sourceVolumes != lastSourceVolumes || provisioned != lastVolumesProvisioned) {
      HashMap<String, PersistentVolume> m = new HashMap<>(sourceVolumes);
      provisioned.forEach((name, p) -> m.putIfAbsent(name, p.pv()));
      lastVolumes = FrozenMap.adopt(m);
      lastSourceVolumes = sourceVolumes;
      lastVolumesProvisioned = provisioned;
    }
    return lastVolumes;
  }

  /**
   * Generic ephemeral volumes: one claim per pod volume, made again only when the pod object changed, so the
   * populator sees the same claim objects and keeps its work.
   */
  private List<PersistentVolumeClaim> ephemeralClaims(Map<String, Pod> pods, Map<String, Provisioned> provisioned) {
    if (pods == lastPods) {
      return lastEphemeralList;
    }
    pods.forEach((podKey, pod) -> {
      Ephemeral e = ephemeral.get(podKey);
      if (e == null || e.pod() != pod) {
        ephemeral.put(podKey, new Ephemeral(pod, ephemeralClaims(pod)));
      }
    });
    if (ephemeral.size() > pods.size()) {
      ephemeral.keySet().removeIf(k -> !pods.containsKey(k));
    }
    // Two pods may name the same claim (pod a-b, volume c and pod a, volume b-c); the first in this list is used
    // and the other pod is told. First: a claim whose volume exists (the same after a restart), then first seen.
    List<PersistentVolumeClaim> out = new ArrayList<>();
    List<PersistentVolumeClaim> notYetProvisioned = new ArrayList<>();
    for (Ephemeral e : ephemeral.values()) {
      if (e.claims().isEmpty()) {
        continue; // most pods: looked at on every change of the pods, so nothing made for them
      }
      for (PersistentVolumeClaim c : e.claims()) {
        (provisioned.containsKey(pvName(c)) ? out : notYetProvisioned).add(c);
      }
    }
    out.addAll(notYetProvisioned);
    lastPods = pods;
    if (!sameElements(out, lastEphemeralList)) { // the same list while the claims are the same: nothing to evaluate
      lastEphemeralList = List.copyOf(out);
    }
    return lastEphemeralList;
  }

  private static <T> boolean sameElements(List<T> a, List<T> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (a.get(i) != b.get(i)) {
        return false;
      }
    }
    return true;
  }

  /** A pod's generic ephemeral claims, {@code <pod>-<volume>}, owned (controlled) by the pod. */
  static List<PersistentVolumeClaim> ephemeralClaims(Pod pod) {
    List<PersistentVolumeClaim> out = new ArrayList<>();
    if (pod.getSpec() == null || pod.getSpec().getVolumes() == null || !KubeletLayout.isValidUid(pod.getMetadata().getUid())) {
      return out;
    }
    for (Volume v : pod.getSpec().getVolumes()) {
      // A malformed volume makes no claim; the populator names what is wrong with it on the pod.
      if (v == null || v.getEphemeral() == null || v.getEphemeral().getVolumeClaimTemplate() == null
          || v.getEphemeral().getVolumeClaimTemplate().getSpec() == null || !KubeletLayout.isValidName(v.getName())) {
        continue;
      }
      out.add(new PersistentVolumeClaimBuilder().withNewMetadata().withName(pod.getMetadata().getName() + "-" + v.getName())
          .withNamespace(ClusterObjects.namespaceOf(pod))
          .withUid(UUID.nameUUIDFromBytes((pod.getMetadata().getUid() + "/" + v.getName()).getBytes(StandardCharsets.UTF_8)).toString())
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Pod").withName(pod.getMetadata().getName())
              .withUid(pod.getMetadata().getUid()).withController(true).build())
          .endMetadata().withSpec(v.getEphemeral().getVolumeClaimTemplate().getSpec()).build());
    }
    return List.copyOf(out);
  }

  /** {@code pvc-<uid>}; claims from manifests often have no uid, so one is derived from namespace and name. */
  static String pvName(PersistentVolumeClaim c) {
    String uid = c.getMetadata().getUid();
    if (uid == null || uid.isEmpty()) {
      uid = UUID.nameUUIDFromBytes(("claim/" + ClusterObjects.key(c)).getBytes(StandardCharsets.UTF_8)).toString();
    }
    return "pvc-" + uid;
  }
}
