package dev.csinode.agent.provisioner;

import dev.csinode.agent.operationexecutor.OperationException;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.volume.AccessModes;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.util.Errors;
import dev.csinode.agent.util.LogOnce;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The claim-binding stage, in standalone mode: the agent is the only control plane, so it does what
 * external-provisioner and the PV controller would. {@link #bind} hands the sources' objects on with claims bound
 * ({@link ClaimBinder}, no I/O) and starts what the binding asks for: a CreateVolume for a claim whose StorageClass's
 * provisioner is a registered driver (named {@code pvc-<claim uid>}, so retries and restarts are idempotent), its
 * PersistentVolume kept durably ({@link ProvisionedVolumes}); generic ephemeral claims; when a claim seen in this run
 * goes, its volume's release recorded durably before anything else, then the volume deleted once unused
 * (reclaimPolicy Delete, the default, also after a restart) or kept (Retain). A claim not seen going (deleted while
 * the agent was down, or the agent restarted with other manifests) never causes a deletion: its volume shows as
 * Released in status and stays until the claim comes back or {@link #delete} is asked for it.
 *
 * <p>Creations, deletions and release records run through an {@link OperationExecutor} keyed by PersistentVolume
 * name: one operation per volume at a time, its bound on parallel operations, and its backoff after a failure (ended
 * when the driver registers or turns healthy again, {@link #driverAvailable}); a failure is its
 * {@link OperationExecutor.Failure}, shown in status and counted in {@code storage_operation_duration_seconds}
 * ({@code volume_provision}, {@code volume_delete}) as a mount failure is. When one of them finishes, or a backoff
 * ends, {@code onChange} asks for another {@link #bind}: the stage never hands anything downstream itself.
 * Runs on the volume manager's context.
 */
public final class Provisioner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Provisioner.class);
  static final String PREFIX = "csi.storage.k8s.io/";
  static final String RELEASED = Provisioned.RELEASED;
  static final String CREATE = "volume_provision";
  static final String DELETE = "volume_delete";
  static final String RELEASE = "volume_release";
  static final String REBIND = "volume_rebind";
  /** How often a released volume still in use is looked at again: the reconciler tears it down meanwhile. */
  static final long IN_USE_RECHECK_MS = 500;

  private final ClaimBinder binder;
  private final ProvisionedVolumes volumes;
  private final DriverRegistry drivers;
  private final ControllerClient controller;
  private final OperationExecutor executor;
  private final Context context;
  private final LongSupplier clock;
  private final Runnable onChange;
  private final LogOnce problemLog = new LogOnce((key, message) -> LOG.warn("{}", message));
  private Predicate<PersistentVolume> inUse = pv -> false;
  private ClusterObjects last = ClusterObjects.EMPTY;
  private ClaimBinder.Result bound;
  private ClaimBinding binding = ClaimBinding.EMPTY;
  /** The last binding's creations by claim, and the claims the executor had no room for, in the order seen. */
  private Map<String, Creation> creations = Map.of();
  private final ArrayDeque<String> waitingForRoom = new ArrayDeque<>();
  private long wakeUpTimer = -1;
  private long wakeUpAt;
  private boolean sourcesReady;
  private volatile ProvisioningStatus status = ProvisioningStatus.EMPTY;
  /** The volumes {@link #status} was built from when all were bound and no operation ran or had failed; else null. */
  private Map<String, Provisioned> quietVolumes;
  /** Closed with the volume manager: operations still finishing must not provision, delete or ask for anything. */
  private volatile boolean closed;

  /**
   * @param executor runs creations, deletions and release records (its own: its keys are PersistentVolume names)
   * @param clock the executor's clock, for waking up when a backoff ends
   * @param onChange asks for another {@link #bind} (coalesced by the caller)
   */
  public Provisioner(Context context, Path stateDir, DriverRegistry drivers, ControllerClient controller, OperationExecutor executor,
                     LongSupplier clock, Runnable onChange) {
    this.context = context;
    this.volumes = new ProvisionedVolumes(stateDir, context);
    this.drivers = drivers;
    this.controller = controller;
    this.executor = executor;
    // A CreateVolume of a claim that went meanwhile still records its volume; until then that claim stays seen.
    this.binder = new ClaimBinder(pvName -> executor.isRunning(OperationKey.volume(pvName)));
    this.clock = clock;
    this.onChange = onChange;
  }

  /** Tells the provisioner when a volume is still wanted or mounted, so it is not deleted under a pod. */
  public void inUse(Predicate<PersistentVolume> predicate) {
    this.inUse = predicate;
  }

  /** True once the sources delivered their first snapshot and no creation, deletion or release record is running. */
  public boolean idle() {
    return sourcesReady && executor.runningCount() == 0;
  }

  /** Claims being provisioned and the volumes provisioned, as of the last binding. Any thread. */
  public ProvisioningStatus status() {
    return status;
  }

  /** Lines the provisioner logged about claims' and volumes' problems (each logged when it appears and when it changes). */
  public long problemLines() {
    return problemLog.lines();
  }

  /**
   * The driver registered or turned healthy again: creations and deletions that failed with it try again now
   * instead of at the end of their backoff.
   */
  public void driverAvailable(String driverName) {
    if (executor.driverAvailable(driverName) > 0) {
      onChange.run();
    }
  }

  /**
   * Binds the sources' claims and starts what that asks for; returns what the desired state is built from. Before
   * the first call nothing is released: an empty start must not look like every claim was deleted.
   */
  public ClaimBinding bind(ClusterObjects sources) {
    if (closed) {
      return binding;
    }
    last = sources;
    sourcesReady = true;
    ClaimBinder.Result r = binder.bind(sources, volumes.all(), drivers::get);
    bound = r;
    r.errors().forEach(problemLog::log);
    problemLog.retain(k -> r.errors().containsKey(k) || volumes.get(k) != null);
    Map<String, Creation> byClaim = new LinkedHashMap<>();
    Set<String> wanted = new HashSet<>();
    r.toCreate().forEach(c -> {
      byClaim.put(c.claimKey(), c);
      wanted.add(c.pvName());
    });
    creations = byClaim;
    // A failure of a volume nobody asks for any more is forgotten: a claim made again starts afresh.
    executor.retainFailures(k -> wanted.contains(k.volume()) || volumes.get(k.volume()) != null);
    waitingForRoom.clear();
    for (Creation c : r.toCreate()) {
      if (!create(c)) {
        waitingForRoom.add(c.claimKey());
      }
    }
    reclaim(r);
    status = buildStatus(r);
    binding = new ClaimBinding(r.objects(), r.errors(), retrying(r));
    return binding;
  }

  /** Claims whose creation failed and is retried, and how it stands: their pods wait, they are not in error. */
  private Map<String, String> retrying(ClaimBinder.Result r) {
    Map<String, String> out = new HashMap<>();
    for (Creation c : r.toCreate()) {
      lastFailure(c.pvName(), CREATE).ifPresent(f -> out.put(c.claimKey(), "CreateVolume with driver " + c.driver() + " failed ("
          + f.failures() + " in a row, next try at " + Instant.ofEpochMilli(f.notBeforeMillis()) + "): " + f.error()));
    }
    return Map.copyOf(out);
  }

  private Optional<OperationExecutor.Failure> lastFailure(String pvName, String operation) {
    return executor.lastFailure(OperationKey.volume(pvName)).filter(f -> f.operation().equals(operation));
  }

  /** Starts the claim's CreateVolume unless it runs or waits for its backoff; false when the executor has no room. */
  private boolean create(Creation c) {
    RegisteredDriver d = drivers.get(c.driver()).orElse(null);
    if (d == null) {
      return true; // bound again when a driver registers
    }
    boolean retry = lastFailure(c.pvName(), CREATE).isPresent();
    return run(c.pvName(), CREATE, d.name(), () -> {
      if (!retry) { // retries are not logged: their failure is, when it changes
        LOG.info("provisioning claim {} with driver {} as {} ({} bytes{})", c.claimKey(), d.name(), c.pvName(),
            c.request().getCapacityRange().getRequiredBytes(), c.block() ? ", block" : "");
      }
      return whenDriverFails(d, controller.createVolume(d, c.request()))
          .compose(vol -> volumes.put(persistentVolume(d, c, vol)))
          .onSuccess(p -> LOG.info("claim {} bound to new PersistentVolume {} (volume {})", c.claimKey(), p.name(), p.volumeHandle()))
          .mapEmpty();
    });
  }

  /**
   * A failed call to the driver is retried as soon as the driver is available again (registers, turns healthy),
   * whatever the error: a driver out of capacity that comes back may well have room.
   */
  private static <T> Future<T> whenDriverFails(RegisteredDriver d, Future<T> call) {
    return call.recover(err -> Future.failedFuture(new OperationException(Errors.describe(err), false, err, d.name())));
  }

  /**
   * Runs an operation on a PersistentVolume through the executor, unless one runs on it or this one waits for its
   * backoff (then a wake-up at its end). False only when the executor had no room: the caller queues it.
   */
  private boolean run(String pvName, String operation, String driver, Supplier<Future<Void>> op) {
    OperationKey key = OperationKey.volume(pvName);
    if (executor.isRunning(key)) {
      return true;
    }
    Optional<OperationExecutor.Failure> failed = lastFailure(pvName, operation);
    if (failed.isPresent() && failed.get().notBeforeMillis() > clock.getAsLong()) {
      wakeUpAt(failed.get().notBeforeMillis());
      return true;
    }
    return executor.tryRun(key, operation, KubeletLayout.pluginName(driver), op, this::operationDone);
  }

  private void operationDone() {
    if (closed) {
      return;
    }
    // The room it leaves goes to the claims that found none, in the order they were seen, before anything else.
    // Taken off the queue before it starts: an operation can complete within tryRun, and this runs again then.
    while (!waitingForRoom.isEmpty()) {
      String claim = waitingForRoom.poll();
      Creation next = creations.get(claim);
      if (next != null && !create(next)) {
        waitingForRoom.addFirst(claim);
        break;
      }
    }
    onChange.run();
  }

  /** One timer for the earliest end of a backoff, however many claims and volumes wait for theirs. */
  private void wakeUpAt(long atMillis) {
    if (wakeUpTimer >= 0 && wakeUpAt <= atMillis) {
      return;
    }
    if (wakeUpTimer >= 0) {
      context.owner().cancelTimer(wakeUpTimer);
    }
    wakeUpAt = atMillis;
    wakeUpTimer = context.owner().setTimer(Math.max(1, atMillis - clock.getAsLong()), t -> {
      wakeUpTimer = -1;
      if (!closed) {
        onChange.run();
      }
    });
  }

  /**
   * Claims that went away release their volumes: the release is recorded, then the volume is deleted (Delete)
   * once unused, or kept (Retain). A recorded release whose claim is back is taken back.
   */
  private void reclaim(ClaimBinder.Result r) {
    for (Provisioned p : r.releasable()) {
      try {
        reclaim(p, r.claims());
      } catch (RuntimeException e) {
        problemLog.log(p.name(), "reclaiming PersistentVolume " + p.name() + " failed: " + Errors.describe(e));
      }
    }
  }

  private void reclaim(Provisioned p, Map<String, PersistentVolumeClaim> claims) {
    String name = p.name();
    if (volumes.get(name) != p || executor.isRunning(OperationKey.volume(name))) {
      return;
    }
    if (claims.containsKey(p.claim())) {
      if (p.released()) {
        record(p, false); // the claim came back before its volume was deleted: bound again
      }
      return;
    }
    if (!p.released()) {
      if (binder.seen(p.claim())) {
        record(p, true); // durable before any deletion: a crash in between must not forget it
      }
      return; // a claim never seen going: Released in status, deleted only when asked
    }
    if (!p.deletedWhenReleased()) {
      return;
    }
    if (inUse.test(p.pv())) {
      wakeUpAt(clock.getAsLong() + IN_USE_RECHECK_MS); // once the reconciler has torn it down
      return;
    }
    RegisteredDriver d = drivers.get(p.driver()).orElse(null);
    if (d != null) { // else looked at again when a driver registers
      run(name, DELETE, d.name(), () -> deleteVolume(p, d, "its claim " + p.claim() + " is gone (reclaimPolicy Delete)"));
    }
  }

  /** Records the volume as Released (its claim was seen going) or, with {@code released} false, as bound again. */
  private void record(Provisioned p, boolean released) {
    PersistentVolume pv = released
        ? new PersistentVolumeBuilder(p.pv()).withNewStatus().withPhase(RELEASED)
            .withMessage("claim " + p.claim() + " deleted at " + Instant.now()).endStatus().build()
        : new PersistentVolumeBuilder(p.pv()).withStatus(null).build();
    run(p.name(), released ? RELEASE : REBIND, p.driver(), () -> volumes.put(pv).onSuccess(x -> {
      if (released) {
        LOG.info("PersistentVolume {} (volume {}) released: its claim {} is gone; reclaimPolicy {}", p.name(), p.volumeHandle(),
            p.claim(), pv.getSpec().getPersistentVolumeReclaimPolicy());
      } else {
        LOG.info("PersistentVolume {} bound again: its claim {} is back before the volume was deleted", p.name(), p.claim());
      }
    }).mapEmpty());
  }

  /** DeleteVolume, then the record. */
  private Future<Void> deleteVolume(Provisioned p, RegisteredDriver d, String why) {
    return whenDriverFails(d, controller.deleteVolume(d, DeleteVolumeRequest.newBuilder().setVolumeId(p.volumeHandle()).build()))
        .compose(x -> volumes.remove(p.name()))
        .onSuccess(x -> {
          binder.forget(p.claim());
          LOG.info("deleted volume {} of PersistentVolume {}: {}", p.volumeHandle(), p.name(), why);
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
   * to it or a pod uses it. An earlier failed deletion's backoff does not hold it back: it is asked for. Call on
   * the provisioner's context; completes with what was done.
   */
  public Future<String> delete(String name) {
    Provisioned p = volumes.get(name);
    if (p == null) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.NOT_FOUND, "no PersistentVolume " + name
          + " was provisioned by this agent" + (last.volumes().containsKey(name) ? " (it comes from the pod sources: remove it there)" : "")));
    }
    if (!sourcesReady) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.UNAVAILABLE,
          "the pod sources have not been read yet, so whether a claim uses PersistentVolume " + name + " is not known; try again"));
    }
    Map<String, PersistentVolumeClaim> claims = bound.claims();
    String boundTo = claims.containsKey(p.claim()) ? p.claim() : claims.entrySet().stream()
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
    OperationKey key = OperationKey.volume(name);
    if (executor.isRunning(key)) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.CONFLICT, "an operation on PersistentVolume " + name
          + " is in progress; try again"));
    }
    String driver = p.driver();
    RegisteredDriver d = drivers.get(driver).orElse(null);
    if (d == null) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.UNAVAILABLE, "PersistentVolume " + name + " belongs to driver "
          + driver + ", which is not registered; try again once it is"));
    }
    executor.forget(key);
    Promise<Void> deleted = Promise.promise();
    boolean started = executor.tryRun(key, DELETE, KubeletLayout.pluginName(driver),
        () -> deleteVolume(p, d, "deletion asked for (claim " + p.claim() + ")").andThen(deleted), this::operationDone);
    if (!started) {
      return Future.failedFuture(new DeleteRefused(DeleteRefused.Reason.UNAVAILABLE, "PersistentVolume " + name
          + " cannot be deleted now: as many volume creations and deletions as allowed are running; try again"));
    }
    return deleted.future().map(v -> "deleted PersistentVolume " + name + " (volume " + p.volumeHandle() + " of driver " + driver + ")");
  }

  private ProvisioningStatus buildStatus(ClaimBinder.Result r) {
    List<ProvisioningStatus.ClaimProvisioning> claims = new ArrayList<>();
    for (String key : r.unbound()) {
      String error = r.errors().get(key);
      Creation c = creations.get(key);
      OperationExecutor.Failure failure = c == null ? null : lastFailure(c.pvName(), CREATE).orElse(null);
      boolean running = c != null && executor.isRunning(OperationKey.volume(c.pvName()));
      if (error == null && failure == null && !running) {
        continue;
      }
      claims.add(new ProvisioningStatus.ClaimProvisioning(key, running ? "provisioning" : error != null ? "error" : "failed",
          failure == null ? null : c.driver(), error != null ? error : failure == null ? null : failure.error(),
          failure == null ? 0 : failure.failures(),
          failure == null || error != null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    claims.sort(Comparator.comparing(ProvisioningStatus.ClaimProvisioning::claim));
    Map<String, Provisioned> all = volumes.all();
    // Every volume bound and nothing running or failed, as at the last binding, for the same volumes: every entry is
    // the same as then. So a pod source's change on a node with many provisioned volumes (a churn of pods with
    // inline volumes) does not rebuild and sort one entry per volume each time.
    boolean quiet = executor.runningCount() == 0 && executor.failures().isEmpty()
        && all.values().stream().allMatch(p -> !p.released() && r.claims().containsKey(p.claim()));
    if (quiet && all == quietVolumes) {
      return new ProvisioningStatus(List.copyOf(claims), status.volumes());
    }
    List<ProvisioningStatus.ProvisionedVolume> out = new ArrayList<>();
    for (Provisioned p : all.values()) {
      PersistentVolume pv = p.pv();
      String name = p.name();
      String policy = pv.getSpec().getPersistentVolumeReclaimPolicy();
      boolean isBound = r.claims().containsKey(p.claim());
      boolean running = executor.isRunning(OperationKey.volume(name));
      OperationExecutor.Failure failure = executor.lastFailure(OperationKey.volume(name)).orElse(null);
      String reason;
      if (isBound) {
        reason = "";
      } else if (!p.released()) {
        reason = binder.seen(p.claim()) ? "claim " + p.claim() + " is gone; recording the release"
            : "claim " + p.claim() + " has not been seen since the agent started (deleted while it was down, or not in its pod "
                + "sources): kept until it comes back or `csi-node-agent pv delete " + name + "`";
      } else if (!"Delete".equals(policy)) {
        reason = "claim " + p.claim() + " was deleted; reclaimPolicy " + policy + ": kept until `csi-node-agent pv delete " + name + "`";
      } else {
        reason = "claim " + p.claim() + " was deleted; reclaimPolicy Delete: " + (running ? "deleting"
            : inUse.test(pv) ? "deleted once no pod uses it"
            : drivers.get(p.driver()).isEmpty() ? "deleted once driver " + p.driver() + " is registered" : "deleting");
      }
      out.add(new ProvisioningStatus.ProvisionedVolume(name, p.claim(), p.driver(), p.volumeHandle(), policy,
          isBound ? "Bound" : RELEASED, reason, failure == null ? null : failure.error(),
          failure == null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    out.sort(Comparator.comparing(ProvisioningStatus.ProvisionedVolume::name));
    quietVolumes = quiet ? all : null;
    return new ProvisioningStatus(List.copyOf(claims), List.copyOf(out));
  }

  /** What is wrong with a claim or its StorageClass, naming the object and the field. */
  static final class InvalidClaim extends RuntimeException {
    InvalidClaim(String message) {
      super(message);
    }
  }

  /** A CreateVolume request for a claim, checked field by field, and what its PersistentVolume is made from. */
  record Creation(String claimKey, PersistentVolumeClaim claim, StorageClass storageClass, CreateVolumeRequest request,
                  List<String> accessModes, boolean block, String fsType, String className) {
    String pvName() {
      return request.getName();
    }

    String driver() {
      return storageClass.getProvisioner();
    }
  }

  static Creation creation(String key, String name, PersistentVolumeClaim c, StorageClass sc, boolean singleNodeMultiWriter) {
    String volumeMode = c.getSpec().getVolumeMode();
    if (volumeMode != null && !volumeMode.equals("Filesystem") && !volumeMode.equals("Block")) {
      throw new InvalidClaim("claim " + key + ": spec.volumeMode '" + volumeMode + "' is neither Filesystem nor Block");
    }
    boolean block = "Block".equals(volumeMode);
    List<String> modes = c.getSpec().getAccessModes() == null || c.getSpec().getAccessModes().isEmpty()
        ? List.of(AccessModes.READ_WRITE_ONCE) : c.getSpec().getAccessModes();
    AccessModes.problem(modes, "claim " + key + ": spec.accessModes").ifPresent(p -> {
      throw new InvalidClaim(p);
    });
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
        .setMode(AccessModes.toCsi(AccessModes.ofVolume(modes), singleNodeMultiWriter)));
    if (block) {
      cap.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
    } else {
      cap.setMount(VolumeCapability.MountVolume.newBuilder().setFsType(fsType).addAllMountFlags(mountOptions));
    }
    CreateVolumeRequest request = CreateVolumeRequest.newBuilder().setName(name)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes)).addVolumeCapabilities(cap).putAllParameters(params).build();
    return new Creation(key, c, sc, request, List.copyOf(modes), block, fsType, className);
  }

  private static PersistentVolume persistentVolume(RegisteredDriver d, Creation creation, dev.csinode.csi.v1.Volume vol) {
    PersistentVolumeClaim c = creation.claim();
    StorageClass sc = creation.storageClass();
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

  /** Closes the provisioned volumes' log; nothing is provisioned or deleted afterwards. */
  @Override
  public void close() {
    closed = true;
    if (wakeUpTimer >= 0) {
      context.owner().cancelTimer(wakeUpTimer);
    }
    volumes.close();
  }
}
