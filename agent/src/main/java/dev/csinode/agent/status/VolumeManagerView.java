package dev.csinode.agent.status;

import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.status.VolumeManagerStatus.VolumeStatus;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;

/**
 * The one way to read the volume manager: status, {@code pod wait} and metrics all look at the reconciler's
 * latest immutable snapshot (desired state, actual state, operation failures and running keys, housekeeping
 * findings) and the provisioner's, through here. Any thread. Listeners hear of every new reconciler snapshot, on the
 * reconciler's context.
 */
public final class VolumeManagerView {
  private final Supplier<Reconciler.Snapshot> snapshots;
  private final Supplier<ProvisioningStatus> provisioning;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  public VolumeManagerView(Supplier<Reconciler.Snapshot> snapshots, Supplier<ProvisioningStatus> provisioning) {
    this.snapshots = snapshots;
    this.provisioning = provisioning;
  }

  /** Subscribes the view to the reconciler's snapshots (the reconciler has one listener: this view). */
  public static VolumeManagerView of(Reconciler reconciler, Supplier<ProvisioningStatus> provisioning) {
    VolumeManagerView view = new VolumeManagerView(reconciler::snapshot, provisioning);
    reconciler.onSnapshot(view::snapshotChanged);
    return view;
  }

  /** Runs after each new reconciler snapshot, on the reconciler's context. */
  public void onChange(Runnable listener) {
    listeners.add(listener);
  }

  /** Called by whoever publishes snapshots, after each new one. */
  public void snapshotChanged() {
    listeners.forEach(Runnable::run);
  }

  public Reconciler.Snapshot snapshot() {
    return snapshots.get();
  }

  /** Claims being provisioned and the PersistentVolumes the agent provisioned (Bound or Released). */
  public ProvisioningStatus provisioning() {
    return provisioning.get();
  }

  /** Whether a volume (by unique name) is wanted by a pod or may still be mounted on the node. */
  public boolean inUse(String uniqueName) {
    Reconciler.Snapshot s = snapshot();
    return s.desired().volume(uniqueName).isPresent() || s.actualByName().containsKey(uniqueName);
  }

  public List<PodStatus> pods() {
    Reconciler.Snapshot s = snapshot();
    List<PodStatus> out = new ArrayList<>();
    for (PodVolumes pv : s.desired().pods().values()) {
      out.add(podStatus(s, pv));
    }
    return out;
  }

  /** One pod's status ({@code namespace/name}), or empty when no source names it. */
  public Optional<PodStatus> pod(String podKey) {
    Reconciler.Snapshot s = snapshot(); // one snapshot for the whole answer
    return Optional.ofNullable(s.desired().pods().get(podKey)).map(pv -> podStatus(s, pv));
  }

  /** A pod's status as one snapshot shows it. */
  public static PodStatus podStatus(Reconciler.Snapshot s, PodVolumes pv) {
    List<PodVolume> vols = new ArrayList<>();
    boolean ready = pv.errors().isEmpty() && pv.waiting().isEmpty();
    for (String unique : pv.uniqueNames()) {
      VolumeSpec spec = s.desired().volume(unique).map(DesiredStateOfWorld.DesiredVolume::spec).orElse(null);
      VolumeView view = s.actualByName().get(unique);
      MountedPod mp = view == null ? null : view.pods().stream().filter(p -> isFor(p, pv)).findFirst().orElse(null);
      OperationExecutor.Failure failure = Optional.ofNullable(s.failures().get(new OperationKey(unique, pv.podUid())))
          .orElse(s.failures().get(OperationKey.volume(unique)));
      boolean running = s.running().contains(OperationKey.volume(unique)) || s.running().contains(new OperationKey(unique, pv.podUid()));
      String state = state(view, mp, failure, running);
      String limit = s.limited().get(unique);
      ready &= state.equals("published");
      vols.add(new PodVolume(pv.podVolumeNames().get(unique), unique, spec == null ? "" : spec.driver(),
          spec == null ? "" : spec.volumeHandle(), state, view == null ? null : view.stagingPath(),
          mp != null && mp.state() == MountState.MOUNTED ? mp.targetPath() : null,
          limit != null ? limit : failure == null ? null : failure.error(),
          failure == null ? null : Instant.ofEpochMilli(failure.notBeforeMillis()).toString()));
    }
    return new PodStatus(pv.podKey(), pv.podUid(), ready, vols, pv.errors(), pv.waiting(), pv.notHandled());
  }

  /**
   * Whether every volume of the pod is published for it, looked up without building its status: asked on every new
   * snapshot for every pod waited for.
   */
  public static boolean allPublished(Reconciler.Snapshot s, PodVolumes pv) {
    return pv.waiting().isEmpty() && pv.uniqueNames().stream().allMatch(unique -> {
      VolumeView v = s.actualByName().get(unique);
      return v != null && v.pods().stream().anyMatch(p -> isFor(p, pv) && p.state() == MountState.MOUNTED);
    });
  }

  /** A volume's mount for this pod: its uid and, once known, its name (a uid taken over by another pod is not it). */
  private static boolean isFor(MountedPod mounted, PodVolumes pod) {
    return mounted.podUid().equals(pod.podUid()) && mounted.of(pod.podKey());
  }

  /**
   * A volume whose stage or publish is running is journaled UNCERTAIN until the call returns (so a crash leaves
   * "may be mounted"), but to a reader it is "in progress"; "uncertain" is an outcome nobody knows any more.
   */
  private static String state(VolumeView view, MountedPod mp, OperationExecutor.Failure failure, boolean running) {
    if (mp != null && mp.state() == MountState.MOUNTED) {
      return "published";
    }
    if (running) {
      return "in progress";
    }
    if (mp != null) {
      return "uncertain";
    }
    if (view != null && view.device() == DeviceState.UNCERTAIN) {
      return "uncertain";
    }
    if (failure != null) {
      return "failed";
    }
    if (view != null && view.device() == DeviceState.MOUNTED) {
      return "staged";
    }
    return "pending";
  }

  public List<VolumeStatus> volumes() {
    Reconciler.Snapshot s = snapshot();
    List<VolumeStatus> out = new ArrayList<>();
    for (VolumeView v : s.actual().stream().sorted(Comparator.comparing(VolumeView::uniqueName)).toList()) {
      // A pod's teardown failing (a link above its publish path, say) is this volume's too: it cannot go until it is fixed.
      OperationExecutor.Failure f = Optional.ofNullable(s.failures().get(OperationKey.volume(v.uniqueName()))).orElseGet(() ->
          v.pods().stream().map(p -> s.failures().get(new OperationKey(v.uniqueName(), p.podUid()))).filter(Objects::nonNull)
              .findFirst().orElse(null));
      boolean running = s.running().stream().anyMatch(k -> k.volume().equals(v.uniqueName()));
      String state = running ? "in progress" : v.device() == DeviceState.UNCERTAIN || v.pods().stream().anyMatch(p -> p.state() == MountState.UNCERTAIN)
          ? "uncertain" : !v.pods().isEmpty() ? "published" : v.device() == DeviceState.MOUNTED ? "staged" : f != null ? "failed" : "pending";
      out.add(new VolumeStatus(v.uniqueName(), v.spec().driver(), v.spec().volumeHandle(), state, v.attached(), v.stagingPath(),
          v.pods().stream().map(MountedPod::podKey).toList(), f == null ? null : f.error(),
          f == null ? null : Instant.ofEpochMilli(f.notBeforeMillis()).toString()));
    }
    return out;
  }

  /** Volumes whose staging or a publish is uncertain (may be mounted; torn down when unused). */
  public long uncertainVolumes() {
    return snapshot().actual().stream().filter(v -> v.device() == DeviceState.UNCERTAIN
        || v.pods().stream().anyMatch(p -> p.state() == MountState.UNCERTAIN)).count();
  }
}
