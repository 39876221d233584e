package dev.csinode.agent.provisioner;

import dev.csinode.agent.util.Errors;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.util.LogOnce;
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
import java.time.Duration;
import java.time.Instant;
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
 * in this run goes, its volume is Released, and that is recorded durably (the record's {@code status.phase}) before
 * anything else; a released volume is deleted once no longer in use (reclaimPolicy Delete, the default, also after
 * a restart) or kept (Retain). A claim not seen going (deleted while the agent was down, or the agent restarted
 * with other manifests) never causes a deletion: its volume shows as Released in status and stays until the
 * claim comes back or {@link #delete} is asked for it ({@code csi-node-agent pv delete NAME}).
 *
 * <p>Each claim is evaluated on its own: whatever is wrong with one (a malformed size, a null in a list, a
 * StorageClass the driver cannot honour) is that claim's error, and the others proceed. Failed CreateVolume and
 * DeleteVolume calls are retried with the volume operations' backoff, and a repeated error is logged once.
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
  /**
   * A PersistentVolume this agent provisioned, its claim's {@code namespace/name}, and whether its release (the
   * claim seen going) is on record: then it is deleted per its reclaimPolicy, also after a restart.
   */
  private record Provisioned(PersistentVolume pv, String claim, boolean released) {
    Provisioned(PersistentVolume pv) {
      this(pv, pv.getSpec().getClaimRef().getNamespace() + "/" + pv.getSpec().getClaimRef().getName(),
          pv.getStatus() != null && RELEASED.equals(pv.getStatus().getPhase()));
    }
  }

  static final String RELEASED = "Released";

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
  /** Claims that only a change of objects can get provisioned, and why, by {@code namespace/name}. */
  private final Map<String, String> errors = new HashMap<>();
  /** Claims whose CreateVolume failed and is retried, and how it stands, by {@code namespace/name}. */
  private final Map<String, String> retrying = new HashMap<>();
  /** Failures of CreateVolume (key {@code create/<claim>}) and DeleteVolume ({@code delete/<PV name>}). */
  private final RetryBackoff retries;
  private final LogOnce problemLog = new LogOnce((key, message) -> LOG.warn("{}", message));
  private OperationExecutor.Observer observer = (operation, plugin, success, seconds) -> { };
  private long retryTimer = -1;
  private long retryTimerAt;
  private volatile ProvisioningStatus status = ProvisioningStatus.EMPTY;
  private boolean statusChanged = true;
  private Predicate<PersistentVolume> inUse = pv -> false;
  private ClusterObjects last = ClusterObjects.EMPTY;

  public Provisioner(Vertx vertx, Path stateDir, DriverRegistry drivers, CsiNodeClient csi, Consumer<ClusterObjects> downstream) {
    this(vertx, stateDir, drivers, csi, Duration.ofMillis(500), Duration.ofSeconds(122), downstream);
  }

  /** @param backoffInitial first wait after a failed CreateVolume or DeleteVolume, doubling up to {@code backoffMax} */
  public Provisioner(Vertx vertx, Path stateDir, DriverRegistry drivers, CsiNodeClient csi, Duration backoffInitial,
                     Duration backoffMax, Consumer<ClusterObjects> downstream) {
    this.vertx = vertx;
    this.retries = new RetryBackoff(backoffInitial, backoffMax, System::currentTimeMillis);
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

  /** Problems per claim ({@code namespace/name}) that only a change of objects fixes, for status. */
  public Map<String, String> errors() {
    return Map.copyOf(errors);
  }

  /** Claims whose provisioning failed and is retried with backoff, and how it stands ({@code namespace/name}). */
  public Map<String, String> retrying() {
    return Map.copyOf(retrying);
  }

  /** Hears of every CreateVolume ({@code volume_provision}) and DeleteVolume ({@code volume_delete}) that finished. */
  public void observe(OperationExecutor.Observer o) {
    this.observer = o;
  }

  /** Claims being provisioned and the volumes provisioned, as of the last evaluation. Any thread. */
  public ProvisioningStatus status() {
    return status;
  }

  /** Lines the provisioner logged about failures and problems (each logged when it appears and when it changes). */
  public long problemLines() {
    return problemLog.lines();
  }

  /**
   * The driver registered or turned healthy again: creations and deletions that failed with it try again now
   * instead of at the end of their backoff. Call on the provisioner's context.
   */
  public void driverAvailable(String driverName) {
    if (retries.reset(driverName) > 0) {
      statusChanged = true;
      refresh();
    }
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
      sourceClaims.forEach((key, c) -> claims.put(key, evaluateSafely(key, c, objects, nextBound)));
      for (PersistentVolumeClaim c : ephemeralClaims) {
        String key = ClusterObjects.key(c);
        if (!claims.containsKey(key)) {
          claims.put(key, evaluateSafely(key, c, objects, nextBound));
        }
      }
      bound = nextBound;
      // A claim bound or gone has no provisioning problem any more.
      errors.keySet().retainAll(unbound.keySet());
      retrying.keySet().retainAll(unbound.keySet());
      retries.retain(k -> !k.startsWith(CREATE) || unbound.containsKey(k.substring(CREATE.length())));
      problemLog.retain(k -> unbound.containsKey(k.startsWith(CREATE) ? k.substring(CREATE.length()) : k) || k.startsWith(DELETE));
      if (!sameEntries(claims, lastClaims)) {
        lastClaims = FrozenMap.adopt(claims);
      }
      releasable = provisioned.values().stream().filter(p -> !lastClaims.containsKey(p.claim()) || p.released()).toList();
      statusChanged = true;
      lastSourceClaims = sourceClaims;
      lastEphemeralClaims = ephemeralClaims;
      lastClaimsVersion = provisionedVersion;
    } else {
      // Nothing a binding depends on changed (a pod came or went): only the claims still waiting for a volume are
      // looked at again, since their class, their driver or a free creation slot may have come.
      unbound.values().forEach(c -> maybeProvision(c, objects));
    }
    reclaim();
    if (statusChanged) {
      statusChanged = false;
      status = buildStatus();
    }
    return new ClusterObjects(objects.pods(), lastClaims, volumes(objects.volumes()), objects.storageClasses(),
        objects.csiDrivers(), objects.secrets(), objects.errors());
  }

  private static final String CREATE = "create/";
  private static final String DELETE = "delete/";

  /** {@link #evaluate}, with anything unforeseen about the claim made its error: the other claims still count. */
  private PersistentVolumeClaim evaluateSafely(String key, PersistentVolumeClaim c, ClusterObjects objects, Map<String, Bound> nextBound) {
    try {
      return evaluate(key, c, objects, nextBound);
    } catch (RuntimeException e) {
      unbound.put(key, c);
      problem(key, "claim " + key + " cannot be evaluated: " + Errors.describe(e));
      return c;
    }
  }

  /** A problem of one claim that only a change of objects can fix: in status, and logged when it appears or changes. */
  private void problem(String key, String message) {
    if (!message.equals(errors.put(key, message))) {
      statusChanged = true;
    }
    problemLog.log(key, message);
  }

  private void noProblem(String key) {
    if (errors.remove(key) != null) {
      statusChanged = true;
    }
    problemLog.resolved(key);
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

  private void maybeProvision(PersistentVolumeClaim c, ClusterObjects objects) {
    String key = ClusterObjects.key(c);
    try {
      provision(key, c, objects);
    } catch (InvalidClaim e) {
      problem(key, e.getMessage());
    } catch (RuntimeException e) {
      problem(key, "claim " + key + " cannot be provisioned: " + Errors.describe(e));
    }
  }

  /** What is wrong with a claim or its StorageClass, naming the object and the field. */
  static final class InvalidClaim extends RuntimeException {
    InvalidClaim(String message) {
      super(message);
    }
  }

  private void provision(String key, PersistentVolumeClaim c, ClusterObjects objects) {
    String className = c.getSpec() == null ? null : c.getSpec().getStorageClassName();
    if (className == null || className.isEmpty()) {
      throw new InvalidClaim("claim " + key + " has no volumeName and no storageClassName; nothing can bind or provision it");
    }
    StorageClass sc = objects.storageClasses().get(className);
    if (sc == null) {
      throw new InvalidClaim("claim " + key + " asks for StorageClass " + className + ", which does not exist");
    }
    if (sc.getProvisioner() == null || sc.getProvisioner().isEmpty()) {
      throw new InvalidClaim("StorageClass " + className + " (of claim " + key + "): provisioner is empty");
    }
    RegisteredDriver d = drivers.get(sc.getProvisioner()).orElse(null);
    if (d == null) {
      throw new InvalidClaim("StorageClass " + className + " names provisioner " + sc.getProvisioner()
          + ", which is not a registered CSI driver (yet)");
    }
    String name = pvName(c);
    if (inFlight.contains(name)) {
      return;
    }
    // Before the request is built: a thousand claims in backoff cost a lookup each per evaluation, no more.
    var backoff = retries.waiting(CREATE + key);
    if (backoff.isPresent()) {
      retryAt(backoff.get().notBeforeMillis());
      return;
    }
    // Checked before a creation slot is taken: a claim that cannot make a request never holds one.
    Creation creation = creation(key, name, c, sc);
    noProblem(key);
    if (creating >= MAX_CONCURRENT_CREATES) {
      // Started as soon as a creation finishes, if the claim is still wanted then.
      waitingForSlot.putIfAbsent(name, () -> {
        if (lastClaims.containsKey(key)) {
          maybeProvision(c, last);
        }
      });
      return;
    }
    inFlight.add(name);
    creating++;
    statusChanged = true;
    long start = System.nanoTime();
    Future<PersistentVolume> created;
    try {
      if (retries.last(CREATE + key).isEmpty()) { // retries are not logged: their failure is, when it changes
        LOG.info("provisioning claim {} with driver {} as {} ({} bytes{})", key, d.name(), name, creation.request().getCapacityRange()
            .getRequiredBytes(), creation.block() ? ", block" : "");
      }
      created = csi.call(d.name(), d.endpoint(), ControllerGrpcClient.CreateVolume, creation.request())
          .compose(resp -> {
            PersistentVolume pv = persistentVolume(c, sc, d, creation, resp.getVolume());
            return save(pv).map(x -> pv);
          });
    } catch (RuntimeException e) {
      created = Future.failedFuture(e);
    }
    created.onComplete(ar -> {
      // The slot is given back whatever happened, before anything else can throw.
      inFlight.remove(name);
      creating--;
      statusChanged = true;
      try {
        observer.finished("volume_provision", "kubernetes.io/csi:" + d.name(), ar.succeeded(), (System.nanoTime() - start) / 1e9);
        if (ar.succeeded()) {
          provisioned.put(name, new Provisioned(ar.result()));
          provisionedVersion++;
          errors.remove(key);
          retrying.remove(key);
          retries.succeeded(CREATE + key);
          problemLog.resolved(CREATE + key);
          LOG.info("claim {} bound to new PersistentVolume {} (volume {})", key, name, ar.result().getSpec().getCsi().getVolumeHandle());
        } else {
          String error = Errors.describe(ar.cause());
          RetryBackoff.Failure f = retries.failed(CREATE + key, d.name(), error);
          retrying.put(key, "CreateVolume with driver " + d.name() + " failed (" + f.failures() + " in a row, next try at "
              + Instant.ofEpochMilli(f.notBeforeMillis()) + "): " + error);
          problemLog.log(CREATE + key, "provisioning claim " + key + " with driver " + d.name() + " failed: " + error
              + " (retried with backoff; logged again when the error changes)");
          retryAt(f.notBeforeMillis());
        }
      } finally {
        startWaiting();
        refresh();
      }
    });
  }

  /** A CreateVolume request for a claim, checked field by field. */
  private record Creation(CreateVolumeRequest request, List<String> accessModes, boolean block, String fsType, String className) {}

  private static final List<String> ACCESS_MODES = List.of("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod");

  private static Creation creation(String key, String name, PersistentVolumeClaim c, StorageClass sc) {
    String volumeMode = c.getSpec().getVolumeMode();
    if (volumeMode != null && !volumeMode.equals("Filesystem") && !volumeMode.equals("Block")) {
      throw new InvalidClaim("claim " + key + ": spec.volumeMode '" + volumeMode + "' is neither Filesystem nor Block");
    }
    boolean block = "Block".equals(volumeMode);
    List<String> modes = c.getSpec().getAccessModes() == null || c.getSpec().getAccessModes().isEmpty()
        ? List.of("ReadWriteOnce") : c.getSpec().getAccessModes();
    for (int i = 0; i < modes.size(); i++) {
      if (modes.get(i) == null || !ACCESS_MODES.contains(modes.get(i))) {
        throw new InvalidClaim("claim " + key + ": spec.accessModes[" + i + "] is " + (modes.get(i) == null ? "null" : "'" + modes.get(i) + "'")
            + "; expected one of " + String.join(", ", ACCESS_MODES));
      }
    }
    long bytes = requestedBytes(key, c);
    String className = sc.getMetadata().getName();
    Map<String, String> params = new HashMap<>();
    if (sc.getParameters() != null) {
      sc.getParameters().forEach((k, v) -> {
        if (k == null || v == null) {
          throw new InvalidClaim("StorageClass " + className + " (of claim " + key + "): parameters." + k + " has no value");
        }
        if (!k.startsWith(PREFIX)) {
          params.put(k, v);
        }
      });
    }
    List<String> mountOptions = sc.getMountOptions() == null ? List.of() : sc.getMountOptions();
    for (int i = 0; i < mountOptions.size(); i++) {
      if (mountOptions.get(i) == null || mountOptions.get(i).isEmpty()) {
        throw new InvalidClaim("StorageClass " + className + " (of claim " + key + "): mountOptions[" + i + "] is empty");
      }
    }
    String policy = sc.getReclaimPolicy();
    if (policy != null && !policy.equals("Delete") && !policy.equals("Retain")) {
      throw new InvalidClaim("StorageClass " + className + " (of claim " + key + "): reclaimPolicy '" + policy
          + "' is neither Delete nor Retain");
    }
    String fsType = sc.getParameters() == null ? "" : sc.getParameters().getOrDefault(PREFIX + "fstype", "");
    VolumeCapability.Builder cap = VolumeCapability.newBuilder().setAccessMode(VolumeCapability.AccessMode.newBuilder()
        .setMode(modes.get(0).equals("ReadWriteMany") ? VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER
            : modes.get(0).equals("ReadOnlyMany") ? VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY
            : VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER));
    if (block) {
      cap.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
    } else {
      cap.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType).addAllMountFlags(mountOptions));
    }
    CreateVolumeRequest request = CreateVolumeRequest.newBuilder().setName(name)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes)).addVolumeCapabilities(cap).putAllParameters(params).build();
    return new Creation(request, List.copyOf(modes), block, fsType, className);
  }

  private static PersistentVolume persistentVolume(PersistentVolumeClaim c, StorageClass sc, RegisteredDriver d, Creation creation,
                                                   dev.csinode.csi.v1.Volume vol) {
    long bytes = creation.request().getCapacityRange().getRequiredBytes();
    return new PersistentVolumeBuilder().withNewMetadata().withName(creation.request().getName())
        .addToAnnotations("pv.kubernetes.io/provisioned-by", d.name()).endMetadata()
        .withNewSpec().addToCapacity("storage", new Quantity(Long.toString(vol.getCapacityBytes() > 0 ? vol.getCapacityBytes() : bytes)))
        .withAccessModes(creation.accessModes()).withVolumeMode(creation.block() ? "Block" : "Filesystem")
        .withPersistentVolumeReclaimPolicy(sc.getReclaimPolicy() == null ? "Delete" : sc.getReclaimPolicy())
        .withStorageClassName(creation.className()).withMountOptions(sc.getMountOptions())
        .withClaimRef(new ObjectReferenceBuilder().withKind("PersistentVolumeClaim").withNamespace(ClusterObjects.namespaceOf(c))
            .withName(c.getMetadata().getName()).build())
        .withNewCsi().withDriver(d.name()).withVolumeHandle(vol.getVolumeId()).withFsType(creation.block() ? null : creation.fsType())
        .withVolumeAttributes(vol.getVolumeContextMap()).endCsi().endSpec().build();
  }

  /** One timer for the earliest retry, however many claims and volumes wait for theirs. */
  private void retryAt(long atMillis) {
    if (retryTimer >= 0 && retryTimerAt <= atMillis) {
      return;
    }
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer);
    }
    retryTimerAt = atMillis;
    retryTimer = vertx.setTimer(Math.max(1, atMillis - retries.now()), t -> {
      retryTimer = -1;
      statusChanged = true;
      refresh();
    });
  }

  private void startWaiting() {
    while (creating < MAX_CONCURRENT_CREATES && !waitingForSlot.isEmpty()) {
      var next = waitingForSlot.entrySet().iterator().next();
      waitingForSlot.remove(next.getKey());
      next.getValue().run();
    }
  }

  /**
   * Claims that went away release their volumes: the release is recorded, then the volume is deleted (Delete)
   * once unused, or kept (Retain). A recorded release whose claim is back is taken back.
   */
  private void reclaim() {
    for (Provisioned p : releasable) {
      try {
        reclaim(p);
      } catch (RuntimeException e) {
        problemLog.log(DELETE + p.pv().getMetadata().getName(), "reclaiming PersistentVolume " + p.pv().getMetadata().getName()
            + " failed: " + Errors.describe(e));
      }
    }
  }

  private void reclaim(Provisioned p) {
    String claim = p.claim();
    PersistentVolume pv = p.pv();
    String name = pv.getMetadata().getName();
    if (provisioned.get(name) != p || inFlight.contains(name)) {
      return;
    }
    if (lastClaims.containsKey(claim)) {
      if (p.released()) {
        record(p, false); // the claim came back before its volume was deleted: bound again
      }
      return;
    }
    if (!p.released()) {
      if (seenClaims.contains(claim)) {
        record(p, true); // durable before any deletion: a crash in between must not forget it
      }
      return; // a claim never seen going: Released in status, deleted only when asked
    }
    if (!"Delete".equals(pv.getSpec().getPersistentVolumeReclaimPolicy())) {
      return;
    }
    if (inUse.test(pv)) {
      lookAgainLater(); // once the reconciler has torn it down
      return;
    }
    var backoff = retries.waiting(DELETE + name);
    if (backoff.isPresent()) {
      retryAt(backoff.get().notBeforeMillis());
      return;
    }
    RegisteredDriver d = drivers.get(pv.getSpec().getCsi().getDriver()).orElse(null);
    if (d == null) {
      return; // looked at again when a driver registers
    }
    deleteVolume(p, d, "its claim " + claim + " is gone (reclaimPolicy Delete)");
  }

  /** Records the volume as Released (its claim was seen going) or, with {@code released} false, as bound again. */
  private void record(Provisioned p, boolean released) {
    String name = p.pv().getMetadata().getName();
    PersistentVolume pv = released
        ? new PersistentVolumeBuilder(p.pv()).withNewStatus().withPhase(RELEASED)
            .withMessage("claim " + p.claim() + " deleted at " + Instant.now()).endStatus().build()
        : new PersistentVolumeBuilder(p.pv()).withStatus(null).build();
    inFlight.add(name);
    save(pv).onComplete(ar -> {
      inFlight.remove(name);
      if (ar.succeeded()) {
        problemLog.resolved(DELETE + name);
        if (provisioned.get(name) == p) {
          provisioned.put(name, new Provisioned(pv));
          provisionedVersion++;
        }
        if (released) {
          LOG.info("PersistentVolume {} (volume {}) released: its claim {} is gone; reclaimPolicy {}", name,
              pv.getSpec().getCsi().getVolumeHandle(), p.claim(), pv.getSpec().getPersistentVolumeReclaimPolicy());
        } else {
          LOG.info("PersistentVolume {} bound again: its claim {} is back before the volume was deleted", name, p.claim());
        }
      } else {
        problemLog.log(DELETE + name, "cannot record the release of PersistentVolume " + name + " in " + records.file() + ": "
            + Errors.describe(ar.cause()));
        lookAgainLater();
      }
      statusChanged = true;
      refresh();
    });
  }

  /** DeleteVolume, then the record; on failure the volume's backoff. Completes on the provisioner's context. */
  private Future<Void> deleteVolume(Provisioned p, RegisteredDriver d, String why) {
    PersistentVolume pv = p.pv();
    String name = pv.getMetadata().getName();
    String handle = pv.getSpec().getCsi().getVolumeHandle();
    inFlight.add(name);
    statusChanged = true;
    long start = System.nanoTime();
    Future<Void> deleted;
    try {
      deleted = csi.call(d.name(), d.endpoint(), ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.newBuilder().setVolumeId(handle).build())
          .compose(r -> Future.fromCompletionStage(records.remove(name), vertx.getOrCreateContext()));
    } catch (RuntimeException e) {
      deleted = Future.failedFuture(e);
    }
    return deleted.andThen(ar -> {
      inFlight.remove(name);
      statusChanged = true;
      try {
        observer.finished("volume_delete", "kubernetes.io/csi:" + d.name(), ar.succeeded(), (System.nanoTime() - start) / 1e9);
        if (ar.succeeded()) {
          if (provisioned.get(name) != null) {
            provisioned.remove(name);
            provisionedVersion++;
          }
          seenClaims.remove(p.claim());
          retries.succeeded(DELETE + name);
          problemLog.resolved(DELETE + name);
          LOG.info("deleted volume {} of PersistentVolume {}: {}", handle, name, why);
        } else {
          RetryBackoff.Failure f = retries.failed(DELETE + name, d.name(), Errors.describe(ar.cause()));
          problemLog.log(DELETE + name, "deleting volume " + handle + " of PersistentVolume " + name + " failed: " + Errors.describe(ar.cause())
              + " (retried with backoff; logged again when the error changes)");
          retryAt(f.notBeforeMillis());
        }
      } finally {
        refresh();
      }
    });
  }

  /** Why an explicit deletion was refused: no such volume, still bound or in use, or not possible now. */
  public static final class DeleteRefused extends RuntimeException {
    /** NOT_FOUND, CONFLICT (bound, in use, busy) or UNAVAILABLE (try later). */
    public enum Reason { NOT_FOUND, CONFLICT, UNAVAILABLE }

    private final Reason reason;

    DeleteRefused(Reason reason, String message) {
      super(message);
      this.reason = reason;
    }

    public Reason reason() {
      return reason;
    }
  }

  /**
   * Deletes a volume this agent provisioned (DeleteVolume, then its record), whatever its reclaimPolicy: for a
   * Released volume whose claim went while the agent was not looking. Refused while a claim exists that is bound
   * to it or a pod uses it. Call on the provisioner's context; completes with what was done.
   */
  public Future<String> delete(String name) {
    Provisioned p = provisioned.get(name);
    if (p == null) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.NOT_FOUND, "no PersistentVolume " + name
          + " was provisioned by this agent" + (last.volumes().containsKey(name) ? " (it comes from the pod sources: remove it there)" : "")));
    }
    if (!sourcesReady) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.UNAVAILABLE,
          "the pod sources have not been read yet, so whether a claim uses PersistentVolume " + name + " is not known; try again"));
    }
    String boundTo = lastClaims.containsKey(p.claim()) ? p.claim() : lastClaims.entrySet().stream()
        .filter(e -> e.getValue().getSpec() != null && name.equals(e.getValue().getSpec().getVolumeName()))
        .map(Map.Entry::getKey).findFirst().orElse(null);
    if (boundTo != null) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.CONFLICT, "PersistentVolume " + name
          + " is bound to claim " + boundTo + ", which exists; delete the claim instead"));
    }
    if (inUse.test(p.pv())) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.CONFLICT, "PersistentVolume " + name
          + " is in use: a pod wants it or it is still mounted; try again once it is torn down"));
    }
    if (inFlight.contains(name)) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.CONFLICT, "an operation on PersistentVolume " + name
          + " is in progress; try again"));
    }
    String driver = p.pv().getSpec().getCsi().getDriver();
    RegisteredDriver d = drivers.get(driver).orElse(null);
    if (d == null) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.UNAVAILABLE, "PersistentVolume " + name + " belongs to driver "
          + driver + ", which is not registered; try again once it is"));
    }
    String handle = p.pv().getSpec().getCsi().getVolumeHandle();
    return deleteVolume(p, d, "deletion asked for (claim " + p.claim() + ")")
        .map(v -> "deleted PersistentVolume " + name + " (volume " + handle + " of driver " + driver + ")");
  }

  private ProvisioningStatus buildStatus() {
    List<ProvisioningStatus.ClaimProvisioning> claims = new ArrayList<>();
    for (String key : unbound.keySet()) {
      String error = errors.get(key);
      var failure = retries.last(CREATE + key).orElse(null);
      boolean running = inFlight.contains(pvName(unbound.get(key)));
      if (error == null && failure == null && !running) {
        continue;
      }
      claims.add(new ProvisioningStatus.ClaimProvisioning(key, running ? "provisioning" : error != null ? "error" : "failed",
          failure == null ? null : failure.driver(), error != null ? error : failure == null ? null : failure.error(),
          failure == null ? 0 : failure.failures(),
          failure == null || error != null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    claims.sort(java.util.Comparator.comparing(ProvisioningStatus.ClaimProvisioning::claim));
    List<ProvisioningStatus.ProvisionedVolume> volumes = new ArrayList<>();
    for (Provisioned p : provisioned.values()) {
      PersistentVolume pv = p.pv();
      String name = pv.getMetadata().getName();
      String policy = pv.getSpec().getPersistentVolumeReclaimPolicy();
      boolean bound = lastClaims.containsKey(p.claim());
      var failure = retries.last(DELETE + name).orElse(null);
      String reason;
      if (bound) {
        reason = "";
      } else if (!p.released()) {
        reason = seenClaims.contains(p.claim()) ? "claim " + p.claim() + " is gone; recording the release"
            : "claim " + p.claim() + " has not been seen since the agent started (deleted while it was down, or not in its pod "
                + "sources): kept until it comes back or `csi-node-agent pv delete " + name + "`";
      } else if (!"Delete".equals(policy)) {
        reason = "claim " + p.claim() + " was deleted; reclaimPolicy " + policy + ": kept until `csi-node-agent pv delete " + name + "`";
      } else {
        reason = "claim " + p.claim() + " was deleted; reclaimPolicy Delete: " + (inFlight.contains(name) ? "deleting"
            : inUse.test(pv) ? "deleted once no pod uses it"
            : drivers.get(pv.getSpec().getCsi().getDriver()).isEmpty() ? "deleted once driver " + pv.getSpec().getCsi().getDriver()
                + " is registered" : "deleting");
      }
      volumes.add(new ProvisioningStatus.ProvisionedVolume(name, p.claim(), pv.getSpec().getCsi().getDriver(),
          pv.getSpec().getCsi().getVolumeHandle(), policy, bound ? "Bound" : RELEASED, reason,
          failure == null ? null : failure.error(),
          failure == null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    volumes.sort(java.util.Comparator.comparing(ProvisioningStatus.ProvisionedVolume::name));
    return new ProvisioningStatus(List.copyOf(claims), List.copyOf(volumes));
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

  /** The claim's {@code spec.resources.requests.storage} in bytes (1 GiB when it asks for none). */
  static long requestedBytes(String key, PersistentVolumeClaim c) {
    var req = c.getSpec().getResources() == null ? null : c.getSpec().getResources().getRequests();
    Quantity q = req == null ? null : req.get("storage");
    if (q == null) {
      return 1L << 30;
    }
    try {
      return Quantities.bytes(q);
    } catch (IllegalArgumentException e) {
      throw new InvalidClaim("claim " + key + ": spec.resources.requests.storage " + e.getMessage());
    }
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
