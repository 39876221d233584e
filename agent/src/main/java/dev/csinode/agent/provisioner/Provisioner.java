package dev.csinode.agent.provisioner;

import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.RecordLog;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Standalone-mode provisioning: the agent is the only control plane, so it does what external-provisioner
 * and the PV controller would. A claim with a StorageClass whose provisioner is a registered driver, and no
 * volume yet, gets a CreateVolume (named {@code pvc-<claim uid>}, so retries and restarts are idempotent) and
 * a PersistentVolume kept under {@code <state-dir>/provisioned.log}; the claim is then seen as bound to it.
 * Generic ephemeral volumes become claims named {@code <pod>-<volume>} owned by their pod. When a claim seen
 * in this run goes and its volume is no longer in use, the volume is deleted (reclaimPolicy Delete, the default)
 * or kept (Retain). A claim not seen since start (the agent restarted with other manifests) never causes a
 * deletion: its volume stays until the claim comes back.
 *
 * <p>Sits between the pod source and the populator: {@link #update} takes the sources' objects and hands the
 * effective objects (claims bound, PVs added) downstream. Runs on the volume manager's context.
 */
public final class Provisioner {
  private static final Logger LOG = LoggerFactory.getLogger(Provisioner.class);
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();
  static final String PREFIX = "csi.storage.k8s.io/";

  private final Vertx vertx;
  private final Path stateDir;
  /** Durable records of the PersistentVolumes this agent provisioned. */
  private final RecordLog records;
  private final DriverRegistry drivers;
  private final CsiNodeClient csi;
  private final Consumer<ClusterObjects> downstream;
  /** A PersistentVolume this agent provisioned, and its claim's {@code namespace/name}. */
  private record Provisioned(PersistentVolume pv, String claim) {
    Provisioned(PersistentVolume pv) {
      this(pv, pv.getSpec().getClaimRef().getNamespace() + "/" + pv.getSpec().getClaimRef().getName());
    }
  }

  /** By PersistentVolume name. */
  private final Map<String, Provisioned> provisioned = new HashMap<>();
  /** Bumped on every change of {@link #provisioned}: the effective volume map is rebuilt only then. */
  private long provisionedVersion;
  private final Set<String> inFlight = new HashSet<>();
  /**
   * CreateVolume calls in flight, bounded: a burst of a thousand claims must not queue a thousand calls ahead of
   * the stage and publish calls of the volumes already provisioned. 64, as many as the reconciler's operations by
   * default: each slot is held through the driver's flush of the new volume and the flush of its PersistentVolume,
   * and with 16 the benchmark's thousand claims were provisioned at ~800/s, the pace of the whole batch.
   */
  private int creating;
  static final int MAX_CONCURRENT_CREATES = 64;
  /** Claims waiting for a creation slot, in the order they were seen; rebuilt by every evaluation. */
  private final Map<String, Runnable> waitingForSlot = new java.util.LinkedHashMap<>();
  /** The claims of the last evaluation, bound where they can be, by {@code namespace/name}: the wanted claims. */
  private Map<String, PersistentVolumeClaim> lastClaims = Map.of();
  private Map<String, PersistentVolume> lastSourceVolumes;
  /** What the last evaluation of every claim was made from: while they stay the same, it stands. */
  private Map<String, PersistentVolumeClaim> lastSourceClaims;
  private List<PersistentVolumeClaim> lastEphemeralClaims;
  private long lastClaimsVersion = -1;
  /** Provisioned volumes whose claim was not among the last evaluation's: the only ones to release. */
  private List<Provisioned> releasable = List.of();
  /** Claims of the last evaluation with no volume yet, by {@code namespace/name}. */
  private final Map<String, PersistentVolumeClaim> unbound = new java.util.LinkedHashMap<>();
  private long lastVolumesVersion = -1;
  private Map<String, PersistentVolume> lastVolumes = Map.of();

  /** A claim bound to a PV the provisioner made, and the bound copy handed downstream. */
  private record Bound(PersistentVolumeClaim claim, PersistentVolume pv, PersistentVolumeClaim copy) {}

  private Map<String, Bound> bound = new HashMap<>();

  /** A pod's generic ephemeral claims, and the pod object they were made from. */
  private record Ephemeral(Pod pod, List<PersistentVolumeClaim> claims) {}

  /** By pod key, in the order the pods were first seen. */
  private final Map<String, Ephemeral> ephemeral = new java.util.LinkedHashMap<>();
  private Map<String, Pod> lastPods;
  private List<PersistentVolumeClaim> lastEphemeralList = List.of();
  /** Claims seen since start: only a claim seen and then gone releases its volume (never one merely not seen yet). */
  private final Set<String> seenClaims = new HashSet<>();
  private boolean sourcesReady;
  private final Map<String, String> errors = new HashMap<>();
  private Predicate<PersistentVolume> inUse = pv -> false;
  private ClusterObjects last = ClusterObjects.EMPTY;

  public Provisioner(Vertx vertx, Path stateDir, DriverRegistry drivers, CsiNodeClient csi, Consumer<ClusterObjects> downstream) {
    this.vertx = vertx;
    this.stateDir = stateDir;
    try {
      this.records = RecordLog.open(stateDir.resolve("provisioned.log"));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot open the provisioned volumes' log in " + stateDir, e);
    }
    this.drivers = drivers;
    this.csi = csi;
    this.downstream = downstream;
    load();
  }

  /** Tells the provisioner when a volume is still mounted somewhere, so it is not deleted under a pod. */
  public void inUse(Predicate<PersistentVolume> predicate) {
    this.inUse = predicate;
  }

  /** True once the sources delivered their first snapshot and no CreateVolume or DeleteVolume is in flight. */
  public boolean idle() {
    return sourcesReady && inFlight.isEmpty();
  }

  /** Problems per claim ({@code namespace/name}), for status. */
  public Map<String, String> errors() {
    return Map.copyOf(errors);
  }

  public void update(ClusterObjects objects) {
    if (closed) {
      return;
    }
    last = objects;
    sourcesReady = true;
    refreshPending = false;
    downstream.accept(effective(objects));
  }

  private boolean refreshPending;
  /** Closed with the volume manager: timers still pending must not provision, delete or hand anything on. */
  private volatile boolean closed;
  /** Re-evaluations are coalesced: with a thousand claims provisioned in a burst, one rebuild per 20 ms, not per claim. */
  private static final long COALESCE_MS = 20;

  /**
   * Re-evaluates the last objects: after a provisioning finished, a driver registered or a volume was released.
   * Does nothing before the pod sources delivered their first snapshot: an empty start must not look like
   * every claim was deleted.
   */
  public void refresh() {
    if (sourcesReady && !refreshPending) {
      refreshPending = true;
      vertx.setTimer(COALESCE_MS, t -> {
        if (refreshPending) {
          update(last);
        }
      });
    }
  }

  /**
   * The sources' objects as the populator must see them: claims bound to the volumes provisioned for them, those
   * volumes added, generic ephemeral claims added. Maps that did not change are handed on as the same instances
   * (the populator then sees unchanged objects); the cost per call is a lookup or two per claim, not a rebuild.
   */
  ClusterObjects effective(ClusterObjects objects) {
    waitingForSlot.clear();
    Map<String, PersistentVolumeClaim> sourceClaims = objects.claims();
    List<PersistentVolumeClaim> ephemeralClaims = ephemeralClaims(objects);
    if (sourceClaims != lastSourceClaims || ephemeralClaims != lastEphemeralClaims || provisionedVersion != lastClaimsVersion) {
      HashMap<String, PersistentVolumeClaim> claims = new HashMap<>(sourceClaims.size() + ephemeralClaims.size());
      Map<String, Bound> nextBound = new HashMap<>();
      unbound.clear();
      sourceClaims.forEach((key, c) -> claims.put(key, evaluate(key, c, objects, nextBound)));
      for (PersistentVolumeClaim c : ephemeralClaims) {
        String key = ClusterObjects.key(c);
        if (!claims.containsKey(key)) {
          claims.put(key, evaluate(key, c, objects, nextBound));
        }
      }
      bound = nextBound;
      errors.keySet().retainAll(unbound.keySet()); // a claim bound or gone has no provisioning problem any more
      if (!sameEntries(claims, lastClaims)) {
        lastClaims = FrozenMap.adopt(claims);
      }
      releasable = provisioned.values().stream().filter(p -> !lastClaims.containsKey(p.claim())).toList();
      lastSourceClaims = sourceClaims;
      lastEphemeralClaims = ephemeralClaims;
      lastClaimsVersion = provisionedVersion;
    } else {
      // Nothing a binding depends on changed (a pod came or went): only the claims still waiting for a volume are
      // looked at again, since their class, their driver or a free creation slot may have come.
      unbound.values().forEach(c -> maybeProvision(c, objects));
    }
    reclaim();
    return new ClusterObjects(objects.pods(), lastClaims, volumes(objects.volumes()), objects.storageClasses(),
        objects.csiDrivers(), objects.secrets(), objects.errors());
  }

  /** The claim as handed downstream: bound to its provisioned volume when there is one; provisioned when needed. */
  private PersistentVolumeClaim evaluate(String key, PersistentVolumeClaim c, ClusterObjects objects, Map<String, Bound> nextBound) {
    seenClaims.add(key);
    String volumeName = c.getSpec() == null ? null : c.getSpec().getVolumeName();
    if (volumeName != null && !volumeName.isEmpty()) {
      return c;
    }
    // The same bound copy while neither claim nor PV changes, so the populator sees an unchanged object.
    Bound b = bound.get(key);
    Provisioned still = b == null ? null : provisioned.get(b.pv().getMetadata().getName());
    if (b == null || b.claim() != c || still == null || still.pv() != b.pv()) {
      Provisioned p = provisioned.get(pvName(c));
      b = p == null ? null
          : new Bound(c, p.pv(), new PersistentVolumeClaimBuilder(c).editSpec().withVolumeName(p.pv().getMetadata().getName()).endSpec().build());
    }
    if (b != null) {
      nextBound.put(key, b);
      return b.copy();
    }
    unbound.put(key, c);
    maybeProvision(c, objects);
    return c;
  }

  private static <V> boolean sameEntries(Map<String, V> a, Map<String, V> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (var e : a.entrySet()) {
      if (b.get(e.getKey()) != e.getValue()) {
        return false;
      }
    }
    return true;
  }

  /** The sources' volumes and the provisioned ones (a source's volume of the same name wins); rebuilt on change only. */
  private Map<String, PersistentVolume> volumes(Map<String, PersistentVolume> sourceVolumes) {
    if (sourceVolumes != lastSourceVolumes || provisionedVersion != lastVolumesVersion) {
      HashMap<String, PersistentVolume> m = new HashMap<>(sourceVolumes);
      provisioned.forEach((name, p) -> m.putIfAbsent(name, p.pv()));
      lastVolumes = FrozenMap.adopt(m);
      lastSourceVolumes = sourceVolumes;
      lastVolumesVersion = provisionedVersion;
    }
    return lastVolumes;
  }

  /**
   * Generic ephemeral volumes: one claim per pod volume, named {@code <pod>-<volume>}, owned by the pod. Made
   * again only when the pod object changed, so the populator sees the same claim objects and keeps its work.
   */
  private List<PersistentVolumeClaim> ephemeralClaims(ClusterObjects objects) {
    Map<String, Pod> pods = objects.pods();
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
    ephemeral.values().forEach(e -> e.claims().forEach(c -> (provisioned.containsKey(pvName(c)) ? out : notYetProvisioned).add(c)));
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

  static List<PersistentVolumeClaim> ephemeralClaims(Pod pod) {
    List<PersistentVolumeClaim> out = new ArrayList<>();
    if (pod.getSpec() == null || pod.getSpec().getVolumes() == null || !KubeletLayout.isValidUid(pod.getMetadata().getUid())) {
      return out;
    }
    for (Volume v : pod.getSpec().getVolumes()) {
      if (v.getEphemeral() == null || v.getEphemeral().getVolumeClaimTemplate() == null) {
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

  private void maybeProvision(PersistentVolumeClaim c, ClusterObjects objects) {
    String key = ClusterObjects.key(c);
    String className = c.getSpec() == null ? null : c.getSpec().getStorageClassName();
    if (className == null || className.isEmpty()) {
      errors.put(key, "claim " + key + " has no volumeName and no storageClassName; nothing can bind or provision it");
      return;
    }
    StorageClass sc = objects.storageClasses().get(className);
    if (sc == null) {
      errors.put(key, "claim " + key + " asks for StorageClass " + className + ", which does not exist");
      return;
    }
    RegisteredDriver d = drivers.get(sc.getProvisioner()).orElse(null);
    if (d == null) {
      errors.put(key, "StorageClass " + className + " names provisioner " + sc.getProvisioner() + ", which is not a registered CSI driver (yet)");
      return;
    }
    String name = pvName(c);
    if (inFlight.contains(name)) {
      return;
    }
    if (creating >= MAX_CONCURRENT_CREATES) {
      // Started as soon as a creation finishes, if the claim is still wanted then.
      waitingForSlot.putIfAbsent(name, () -> {
        if (lastClaims.containsKey(key)) {
          maybeProvision(c, last);
        }
      });
      return;
    }
    long bytes = requestedBytes(c);
    inFlight.add(name);
    creating++;
    boolean block = "Block".equals(c.getSpec().getVolumeMode());
    List<String> modes = c.getSpec().getAccessModes() == null || c.getSpec().getAccessModes().isEmpty()
        ? List.of("ReadWriteOnce") : c.getSpec().getAccessModes();
    Map<String, String> params = new HashMap<>();
    if (sc.getParameters() != null) {
      sc.getParameters().forEach((k, v) -> {
        if (!k.startsWith(PREFIX)) {
          params.put(k, v);
        }
      });
    }
    String fsType = sc.getParameters() == null ? "" : sc.getParameters().getOrDefault(PREFIX + "fstype", "");
    VolumeCapability.Builder cap = VolumeCapability.newBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
        .setMode(modes.get(0).equals("ReadWriteMany") ? VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER
            : modes.get(0).equals("ReadOnlyMany") ? VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY
            : VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER));
    if (block) {
      cap.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
    } else {
      cap.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType)
          .addAllMountFlags(sc.getMountOptions() == null ? List.of() : sc.getMountOptions()));
    }
    LOG.info("provisioning claim {} with driver {} as {} ({} bytes{})", key, d.name(), name, bytes, block ? ", block" : "");
    csi.call(d.name(), d.endpoint(), ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
            .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes)).addVolumeCapabilities(cap).putAllParameters(params).build())
        .compose(resp -> {
          var vol = resp.getVolume();
          PersistentVolume pv = new PersistentVolumeBuilder().withNewMetadata().withName(name)
              .addToAnnotations("pv.kubernetes.io/provisioned-by", d.name()).endMetadata()
              .withNewSpec().addToCapacity("storage", new Quantity(Long.toString(vol.getCapacityBytes() > 0 ? vol.getCapacityBytes() : bytes)))
              .withAccessModes(modes).withVolumeMode(block ? "Block" : "Filesystem")
              .withPersistentVolumeReclaimPolicy(sc.getReclaimPolicy() == null ? "Delete" : sc.getReclaimPolicy())
              .withStorageClassName(className).withMountOptions(sc.getMountOptions())
              .withClaimRef(new ObjectReferenceBuilder().withKind("PersistentVolumeClaim").withNamespace(ClusterObjects.namespaceOf(c))
                  .withName(c.getMetadata().getName()).build())
              .withNewCsi().withDriver(d.name()).withVolumeHandle(vol.getVolumeId()).withFsType(block ? null : fsType)
              .withVolumeAttributes(vol.getVolumeContextMap()).endCsi().endSpec().build();
          return save(pv).map(x -> pv);
        })
        .onComplete(ar -> {
          inFlight.remove(name);
          creating--;
          startWaiting();
          if (ar.succeeded()) {
            provisioned.put(name, new Provisioned(ar.result()));
            provisionedVersion++;
            errors.remove(key);
            LOG.info("claim {} bound to new PersistentVolume {} (volume {})", key, name, ar.result().getSpec().getCsi().getVolumeHandle());
            refresh();
          } else {
            errors.put(key, "provisioning claim " + key + " failed: " + ar.cause().getMessage());
            LOG.warn("provisioning claim {} failed: {}", key, ar.cause().getMessage());
            vertx.setTimer(2000, t -> refresh());
          }
        });
  }

  private void startWaiting() {
    while (creating < MAX_CONCURRENT_CREATES && !waitingForSlot.isEmpty()) {
      var next = waitingForSlot.entrySet().iterator().next();
      waitingForSlot.remove(next.getKey());
      next.getValue().run();
    }
  }

  /** Claims that went away release their volumes: deleted (Delete) once unused, or kept (Retain). */
  private void reclaim() {
    for (Provisioned p : releasable) {
      String claim = p.claim();
      PersistentVolume pv = p.pv();
      String name = pv.getMetadata().getName();
      if (provisioned.get(name) != p || inFlight.contains(name) || !seenClaims.contains(claim)) {
        continue;
      }
      if (!"Delete".equals(pv.getSpec().getPersistentVolumeReclaimPolicy())) {
        continue;
      }
      if (inUse.test(pv)) {
        lookAgainLater(); // once the reconciler has torn it down
        continue;
      }
      RegisteredDriver d = drivers.get(pv.getSpec().getCsi().getDriver()).orElse(null);
      if (d == null) {
        continue;
      }
      inFlight.add(name);
      csi.call(d.name(), d.endpoint(), ControllerGrpcClient.DeleteVolume,
              DeleteVolumeRequest.newBuilder().setVolumeId(pv.getSpec().getCsi().getVolumeHandle()).build())
          .compose(r -> Future.fromCompletionStage(records.remove(name), vertx.getOrCreateContext()))
          .onComplete(ar -> {
            inFlight.remove(name);
            if (ar.succeeded()) {
              provisioned.remove(name);
              provisionedVersion++;
              seenClaims.remove(claim);
              LOG.info("deleted volume {} of PersistentVolume {}: its claim {} is gone (reclaimPolicy Delete)",
                  pv.getSpec().getCsi().getVolumeHandle(), name, claim);
            } else {
              LOG.warn("deleting PersistentVolume {} failed: {}; retrying", name, ar.cause().getMessage());
              vertx.setTimer(2000, t -> refresh());
            }
          });
    }
  }

  private boolean lookAgainScheduled;

  /**
   * One re-evaluation in 500 ms, however many volumes wait to be released: a thousand claims deleted at once must
   * not schedule a thousand timers per evaluation.
   */
  private void lookAgainLater() {
    if (!lookAgainScheduled) {
      lookAgainScheduled = true;
      vertx.setTimer(500, t -> {
        lookAgainScheduled = false;
        refresh();
      });
    }
  }

  static long requestedBytes(PersistentVolumeClaim c) {
    var req = c.getSpec().getResources() == null ? null : c.getSpec().getResources().getRequests();
    Quantity q = req == null ? null : req.get("storage");
    return q == null ? 1L << 30 : Quantity.getAmountInBytes(q).longValue();
  }

  /** Durable once the future completes; completes on the caller's context. */
  private Future<Void> save(PersistentVolume pv) {
    return Future.fromCompletionStage(records.put(pv.getMetadata().getName(), KUBE.asJson(pv)), vertx.getOrCreateContext());
  }

  private void load() {
    // Records of an older version, a file per volume in provisioned/, are moved into the log first.
    records.adoptFiles(stateDir.resolve("provisioned"), name -> name);
    for (var record : records.records().entrySet()) {
      try {
        PersistentVolume pv = KUBE.unmarshal(record.getValue(), PersistentVolume.class);
        KubeletLayout.requireName(pv.getMetadata().getName(), "PersistentVolume name");
        provisioned.put(pv.getMetadata().getName(), new Provisioned(pv));
      } catch (RuntimeException e) {
        LOG.error("provisioned volume record {} in {} is unreadable and was skipped: {}", record.getKey(), records.file(),
            e.getMessage());
      }
    }
  }

  /** Closes the provisioned volumes' log; nothing is provisioned or deleted afterwards. */
  public void close() {
    closed = true;
    records.close();
  }
}
