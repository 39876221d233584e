package dev.csinode.agent.operationexecutor;

import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.volume.AccessModes;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.agent.volume.VolData;
import dev.csinode.agent.volume.VolumeOwnership;
import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.mount.RootDir;
import dev.csinode.mount.SymlinkRefusedException;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.fabric8.kubernetes.api.model.Secret;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operations the reconciler starts, in the kubelet's order and with its request fields: mount
 * (attach if required, stage once per volume, publish per pod), unmount (unpublish), unmount device (unstage,
 * detach). Each updates the actual state of world from its outcome; a failed or timed-out stage or publish
 * leaves the volume UNCERTAIN, so it is still torn down when its pods go.
 *
 * <p>Blocking file work (directories, vol_data.json) runs on worker threads; state changes happen on the
 * reconciler's context, where the returned futures complete.
 */
public final class VolumeOperations {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeOperations.class);
  static final String STAGE_UNSTAGE = "STAGE_UNSTAGE_VOLUME";
  static final String MOUNT_GROUP = "VOLUME_MOUNT_GROUP";
  /** rwxr-x---: the kubelet's mode for the staging and pod volume directories it makes. */
  private static final int KUBELET_DIR_MODE = 0750;

  private final Vertx vertx;
  private final KubeletLayout layout;
  private final String nodeName;
  private final DriverRegistry drivers;
  private final CsiNodeClient csi;
  private final ActualStateOfWorld asw;
  private final Supplier<ClusterObjects> objects;
  private final ActualStateJournal journal;
  private final MountPoints mounts;
  /** Whether one registration of each driver offers ControllerPublishVolume, by driver name. */
  private final Map<String, ControllerPublishOffer> controllerPublishOffers = new ConcurrentHashMap<>();

  /** {@code mounts}: where the operations look before removing a directory they made (never a mount point). */
  public VolumeOperations(Vertx vertx, KubeletLayout layout, String nodeName, DriverRegistry drivers, CsiNodeClient csi,
                          ActualStateOfWorld asw, Supplier<ClusterObjects> objects, ActualStateJournal journal, MountPoints mounts) {
    this.journal = journal;
    this.mounts = mounts;
    this.vertx = vertx;
    this.layout = layout;
    this.nodeName = nodeName;
    this.drivers = drivers;
    this.csi = csi;
    this.asw = asw;
    this.objects = objects;
  }

  // ------------------------------------------------------------------ mount

  /** Attaches and stages the volume if needed, then publishes it for the pod. */
  public Future<Void> mount(VolumeSpec desired, PodToMount pod) {
    RegisteredDriver d = driver(desired); // throws OperationException; the executor records it as this operation's failure
    AttachedVolume v = asw.getOrAdd(desired);
    // An inline volume an older version made for a uid that is not a UUID has a handle of the older form: the
    // driver knows it by that one until it is torn down.
    VolumeSpec spec = desired.inline() && !v.spec.volumeHandle().equals(desired.volumeHandle()) ? v.spec : desired;
    return whenDriverAway(spec, attach(spec, d, v)
        .compose(x -> spec.inline() ? Future.succeededFuture() : stage(spec, d, v, pod))
        .compose(x -> publish(spec, d, v, pod)));
  }

  private Future<Void> attach(VolumeSpec spec, RegisteredDriver d, AttachedVolume v) {
    if (spec.inline() || !spec.attachRequired() || v.attached) {
      return Future.succeededFuture();
    }
    return offersControllerPublish(d)
        .compose(canAttach -> {
          // Recorded as attached before the call: if we die during it, teardown still detaches (idempotent).
          v.attached = true;
          if (!canAttach) {
            // What the external attacher does for such a driver: the attachment is marked attached, no call made.
            LOG.info("volume {} (driver {}) counts as attached to node {}: the driver offers no ControllerPublishVolume",
                spec.volumeHandle(), d.name(), d.nodeId());
            return persist(v).map(x -> ControllerPublishVolumeResponse.getDefaultInstance());
          }
          return persist(v).compose(x -> csi.call(d.name(), d.endpoint(), ControllerGrpcClient.ControllerPublishVolume,
              ControllerPublishVolumeRequest.newBuilder().setVolumeId(spec.volumeHandle()).setNodeId(d.nodeId())
                  .setVolumeCapability(capability(spec, d, null)).putAllVolumeContext(spec.volumeAttributes()).build()))
              .map(resp -> {
                LOG.info("attached volume {} (driver {}) to node {}", spec.volumeHandle(), d.name(), d.nodeId());
                return resp;
              });
        })
        .map(resp -> {
          v.publishContext = Map.copyOf(resp.getPublishContextMap());
          return (Void) null;
        })
        .recover(err -> Future.failedFuture(wrap("ControllerPublishVolume", spec, err)))
        .transform(ar -> persistThen(v, ar.succeeded() ? Future.succeededFuture() : Future.failedFuture(ar.cause())));
  }

  /**
   * Whether the driver offers ControllerPublishVolume/ControllerUnpublishVolume (PUBLISH_UNPUBLISH_VOLUME). A
   * driver without a controller service (UNIMPLEMENTED) offers none. Without it, attach and detach are only
   * recorded, as the external attacher does when no CSIDriver object says attachRequired: false.
   */
  private Future<Boolean> offersControllerPublish(RegisteredDriver d) {
    // Asked once per registration of the driver (as its node capabilities are), not at every attach and detach; a
    // failed answer is not kept, so the next attach asks again.
    ControllerPublishOffer known = controllerPublishOffers.get(d.name());
    if (known != null && known.registeredAtMillis() == d.registeredAtMillis() && known.endpoint().equals(d.endpoint())) {
      return known.offered();
    }
    Future<Boolean> offered = csi.call(d.name(), d.endpoint(), ControllerGrpcClient.ControllerGetCapabilities,
            ControllerGetCapabilitiesRequest.getDefaultInstance())
        .map(caps -> caps.getCapabilitiesList().stream()
            .anyMatch(c -> c.getRpc().getType() == ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME))
        .recover(err -> err instanceof GrpcCallException g && g.status() == GrpcStatus.UNIMPLEMENTED
            ? Future.succeededFuture(false) : Future.failedFuture(err));
    ControllerPublishOffer offer = new ControllerPublishOffer(d.registeredAtMillis(), d.endpoint(), offered);
    controllerPublishOffers.put(d.name(), offer);
    offered.onFailure(err -> controllerPublishOffers.remove(d.name(), offer));
    return offered;
  }

  /** Whether one registration of a driver offers ControllerPublishVolume (the answer, or the call in flight). */
  private record ControllerPublishOffer(long registeredAtMillis, String endpoint, Future<Boolean> offered) {}

  private Future<Void> stage(VolumeSpec spec, RegisteredDriver d, AttachedVolume v, PodToMount pod) {
    if (v.device == DeviceState.MOUNTED) {
      return Future.succeededFuture();
    }
    Path staging = spec.block() ? layout.blockStagingPath(spec.specName()) : layout.stagingPath(spec.driver(), spec.volumeHandle());
    Path dataDir = spec.block() ? layout.blockDataDir(spec.specName()) : staging.getParent();
    Map<String, String> data = spec.block() ? podData(spec, VolData.PERSISTENT) : Map.of(VolData.VOLUME_HANDLE, spec.volumeHandle(),
        VolData.DRIVER_NAME, spec.driver());
    return blocking(() -> {
      beneathRoot(spec, "staging path", staging, () -> {
        layout.rootDir().createDirectories(staging, KUBELET_DIR_MODE).close();
        if (spec.block()) { // a filesystem volume's data directory is the staging path's parent, made just above
          layout.rootDir().createDirectories(dataDir, KUBELET_DIR_MODE).close();
        }
        VolData.write(layout.rootDir(), dataDir, data);
      });
    }).compose(x -> {
      v.stagingPath = staging.toString();
      if (!d.hasNodeCapability(STAGE_UNSTAGE)) {
        v.device = DeviceState.MOUNTED; // nothing to stage: the kubelet also just records it
        return persist(v);
      }
      NodeStageVolumeRequest.Builder req = NodeStageVolumeRequest.newBuilder().setVolumeId(spec.volumeHandle())
          .putAllPublishContext(v.publishContext).setStagingTargetPath(staging.toString())
          .setVolumeCapability(capability(spec, d, mountGroup(spec, pod, d))).putAllVolumeContext(spec.volumeAttributes());
      req.putAllSecrets(secrets(spec.stageSecret()));
      v.device = DeviceState.UNCERTAIN; // until the driver says otherwise; recorded before the call
      // A success is recorded by the publish that always follows (mount), in its record made before NodePublishVolume:
      // one record instead of two in a row. A crash before that record leaves the stage UNCERTAIN, as a crash before a
      // record of its own did: staged again (idempotent) or torn down. A failure is recorded here.
      return persist(v).compose(w -> csi.call(d.name(), d.endpoint(), NodeGrpcClient.NodeStageVolume, req.build()))
          .<Void>map(r -> {
            v.device = DeviceState.MOUNTED;
            LOG.info("staged volume {} (driver {}) at {}", spec.volumeHandle(), d.name(), staging);
            return null;
          })
          // Whatever the code, a failed stage may have left something behind: it stays UNCERTAIN for teardown.
          .recover(err -> persistThen(v, Future.failedFuture(wrap("NodeStageVolume", spec, err))));
    });
  }

  private Future<Void> publish(VolumeSpec spec, RegisteredDriver d, AttachedVolume v, PodToMount pod) {
    if (!spec.inline() && v.device != DeviceState.MOUNTED) {
      return Future.failedFuture(new OperationException("volume " + spec.specName() + " is not staged; not publishing", false));
    }
    Path target = spec.block() ? layout.blockPublishPath(spec.specName(), pod.podUid()) : layout.publishPath(pod.podUid(), spec.specName());
    Path podVolDir = spec.block() ? null : layout.podVolumeDir(pod.podUid(), spec.specName());
    Map<String, String> data = podData(spec, spec.inline() ? VolData.EPHEMERAL : VolData.PERSISTENT);
    return blocking(() -> {
      beneathRoot(spec, "publish path", target, () -> {
        layout.rootDir().createDirectories(target.getParent(), KUBELET_DIR_MODE).close();
        if (podVolDir != null) {
          VolData.write(layout.rootDir(), podVolDir, data);
        }
        requirePublishable(spec, target);
      });
    }).recover(err -> persistThen(v, Future.failedFuture(err))) // a stage just done is recorded (see stage) before this failure
      .compose(x -> {
      NodePublishVolumeRequest.Builder req = NodePublishVolumeRequest.newBuilder().setVolumeId(spec.volumeHandle())
          .putAllPublishContext(v.publishContext).setTargetPath(target.toString())
          .setVolumeCapability(capability(spec, d, mountGroup(spec, pod, d)))
          .setReadonly(pod.readOnly()).putAllVolumeContext(volumeContext(spec, pod));
      if (d.hasNodeCapability(STAGE_UNSTAGE) && !spec.inline()) {
        req.setStagingTargetPath(v.stagingPath);
      }
      req.putAllSecrets(secrets(spec.publishSecret()));
      boolean known = v.pods.containsKey(pod.podUid());
      v.pods.put(pod.podUid(), new MountedPod(pod.podUid(), pod.podKey(), MountState.UNCERTAIN, target.toString()));
      return persistThen(v, persist(v).compose(w -> csi.call(d.name(), d.endpoint(), NodeGrpcClient.NodePublishVolume, req.build()))
          .compose(r -> agentAppliesFsGroup(spec, pod, d) ? blocking(() -> applyFsGroup(spec, pod, target)) : Future.<Void>succeededFuture())
          .compose(r -> {
            v.pods.put(pod.podUid(), new MountedPod(pod.podUid(), pod.podKey(), MountState.MOUNTED, target.toString()));
            LOG.info("published volume {} (driver {}) for pod {} at {}", spec.specName(), d.name(), pod.podKey(), target);
            return spec.block() ? blocking(() -> linkBlockDevice(pod, spec, target)) : Future.<Void>succeededFuture();
          }).recover(err -> {
            // A final error on a first publish did nothing; any other failure may have mounted: keep it UNCERTAIN.
            if (!CsiNodeClient.isUncertain(err) && !known) {
              v.pods.remove(pod.podUid());
            }
            return Future.failedFuture(wrap("NodePublishVolume", spec, err));
          }));
    });
  }

  /**
   * The kubelet's rule: the agent sets fsGroup ownership itself when the pod has an fsGroup, uses the volume
   * read-write, the driver cannot do it (no VOLUME_MOUNT_GROUP), and the CSIDriver's fsGroupPolicy asks for it:
   * {@code File} always, {@code ReadWriteOnceWithFSType} (the default) for a volume with an fs type used
   * ReadWriteOnce, {@code None} never.
   */
  static boolean agentAppliesFsGroup(VolumeSpec spec, PodToMount pod, RegisteredDriver d) {
    if (pod.fsGroup() == null || spec.block() || pod.readOnly() || d.hasNodeCapability(MOUNT_GROUP)) {
      return false;
    }
    return switch (spec.fsGroupPolicy()) {
      case "File" -> true;
      case "ReadWriteOnceWithFSType" -> !spec.fsType().isEmpty() && (spec.inline() || spec.accessMode().equals(AccessModes.READ_WRITE_ONCE));
      default -> false;
    };
  }

  /**
   * The fsGroup for volume_mount_group: the pod's, for every driver that applies it itself (VOLUME_MOUNT_GROUP). As
   * the kubelet does, whatever the CSIDriver's fsGroupPolicy (None included) and the volume's use: the policy only
   * says what the node may change itself, and a driver with the capability is trusted with the group.
   */
  static Long mountGroup(VolumeSpec spec, PodToMount pod, RegisteredDriver d) {
    return pod.fsGroup() != null && d.hasNodeCapability(MOUNT_GROUP) ? pod.fsGroup() : null;
  }

  private void applyFsGroup(VolumeSpec spec, PodToMount pod, Path target) {
    try {
      if (VolumeOwnership.apply(layout.rootDir(), target, pod.fsGroup(), pod.fsGroupChangePolicy())) {
        LOG.info("set group {} on volume {} for pod {} (fsGroup)", pod.fsGroup(), spec.specName(), pod.podKey());
      }
    } catch (IOException | RuntimeException e) {
      // The volume is mounted: uncertain, so the next attempt publishes again (idempotent) and retries this.
      throw new OperationException("volume " + spec.specName() + " was published for pod " + pod.podKey()
          + " but setting its fsGroup " + pod.fsGroup() + " failed: " + e.getMessage(), true);
    }
  }

  private void linkBlockDevice(PodToMount pod, VolumeSpec spec, Path target) throws IOException {
    Path link = layout.podBlockDeviceLink(pod.podUid(), spec.specName());
    beneathRoot(spec, "block device link", link, () -> {
      layout.rootDir().createDirectories(link.getParent(), KUBELET_DIR_MODE).close();
      layout.rootDir().symlink(link, target);
    });
  }

  /**
   * What is at a publish path before NodePublishVolume: nothing yet, or what the agent or the driver made there (a
   * directory, for a block volume a file or the device bound onto it). A link, at the path or above it, is never
   * handed to a driver, which would mount wherever it points.
   */
  private void requirePublishable(VolumeSpec spec, Path target) throws IOException {
    RootDir.Kind kind = layout.rootDir().kind(target);
    boolean fits = kind == RootDir.Kind.MISSING || (spec.block() ? kind != RootDir.Kind.DIRECTORY : kind == RootDir.Kind.DIRECTORY);
    if (!fits) {
      throw new OperationException("volume " + spec.specName() + " (driver " + spec.driver() + "): publish path " + target
          + " cannot be used: it is a " + kind.name().toLowerCase() + ", not what the agent makes there (a "
          + (spec.block() ? "file" : "directory") + "); it is left alone", false);
    }
  }

  /**
   * Before a teardown call. A link (or, for a filesystem volume, a file or device) AT the path, with nothing mounted
   * there, is not the agent's and holds nothing of the volume: it is removed (never followed) and the driver gets
   * the now missing path, which it treats as already torn down; teardown goes on. A link ABOVE the path is this
   * volume's final error: the agent cannot know what is mounted where it points, so it never hands that to a driver.
   */
  private void clearLeaf(VolumeSpec spec, String what, Path path) throws IOException {
    RootDir.Kind kind;
    boolean leafLink = false;
    try {
      kind = layout.rootDir().kind(path);
    } catch (SymlinkRefusedException e) {
      if (!path.toString().equals(e.getFile())) {
        throw new OperationException("volume " + spec.specName() + " (driver " + spec.driver() + "): cannot be torn down: "
            + e.getFile() + ", above its " + what + " " + path + ", is a symbolic link, which is not followed: what is mounted "
            + "where it points is unknown, so nothing is handed to the driver. Remove the link (and unmount what is at its "
            + "target by hand) for the teardown to go on", false);
      }
      kind = RootDir.Kind.OTHER;
      leafLink = true;
    } catch (NotDirectoryException e) {
      throw new OperationException("volume " + spec.specName() + " (driver " + spec.driver() + "): cannot be torn down: "
          + e.getFile() + ", above its " + what + " " + path + ", is not a directory. Remove it for the teardown to go on", false);
    }
    // A block volume's publish and staging paths are the driver's files or devices: only a link there is foreign.
    boolean foreign = leafLink || !spec.block() && (kind == RootDir.Kind.FILE || kind == RootDir.Kind.OTHER);
    if (!foreign) {
      return;
    }
    String found = leafLink ? "a symbolic link" : "a " + kind.name().toLowerCase();
    // The mount table names mount points as they are, so this does not resolve the link.
    if (mounts.table().isMountPoint(path)) {
      throw new OperationException("volume " + spec.specName() + " (driver " + spec.driver() + "): " + what + " " + path
          + " is " + found + " and something is mounted there: not torn down through it; unmount it by hand", false);
    }
    if (layout.rootDir().delete(path)) {
      LOG.warn("volume {} (driver {}): {} {} was {}, not the agent's, with nothing mounted there: removed (not followed); "
          + "tearing the volume down", spec.specName(), spec.driver(), what, path, found);
    }
  }

  /**
   * Runs file work beneath the root; a link (or a file where a directory belongs) on the way is this volume's final
   * error, naming the path: it is never followed, and retrying does not help until someone removes it.
   */
  private void beneathRoot(VolumeSpec spec, String what, Path path, IoAction action) throws IOException {
    try {
      action.run();
    } catch (FileSystemException e) {
      if (e instanceof SymlinkRefusedException || e instanceof NotDirectoryException) {
        throw new OperationException("volume " + spec.specName() + " (driver " + spec.driver() + "): " + what + " " + path
            + " cannot be used: " + e.getFile() + " " + (e.getReason() == null ? "is not a directory" : e.getReason()), false);
      }
      throw e;
    } catch (IOException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ unmount

  /** NodeUnpublishVolume for one pod, then removal of the directories the agent created (never a mount point). */
  public Future<Void> unmount(AttachedVolume v, MountedPod pod) {
    VolumeSpec spec = v.spec;
    RegisteredDriver d = driver(spec); // throws OperationException; the executor records it as this operation's failure
    return whenDriverAway(spec, blocking(() -> clearLeaf(spec, "publish path", Path.of(pod.targetPath())))
        .compose(x -> csi.call(d.name(), d.endpoint(), NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder()
            .setVolumeId(spec.volumeHandle()).setTargetPath(pod.targetPath()).build()))
        .recover(err -> {
          v.pods.put(pod.podUid(), new MountedPod(pod.podUid(), pod.podKey(), MountState.UNCERTAIN, pod.targetPath()));
          return Future.failedFuture(wrap("NodeUnpublishVolume", spec, err));
        })
        .compose(r -> blocking(() -> cleanPodVolume(spec, pod)))
        .<Void>map(x -> {
          v.pods.remove(pod.podUid());
          LOG.info("unpublished volume {} (driver {}) for pod {}", spec.specName(), d.name(), pod.podKey());
          return null;
        })
        .transform(ar -> persistThen(v, ar.succeeded() ? Future.<Void>succeededFuture() : Future.<Void>failedFuture(ar.cause()))));
  }

  private void cleanPodVolume(VolumeSpec spec, MountedPod pod) throws IOException {
    Path target = Path.of(pod.targetPath());
    if (mounts.isMountPoint(target)) {
      throw new OperationException("NodeUnpublishVolume succeeded but " + target + " is still a mount point; left in place", true);
    }
    // The directories follow from the recorded target, not the spec: a volume rebuilt from disk may know less.
    if (spec.block()) {
      layout.rootDir().delete(target);
      layout.rootDir().delete(layout.podBlockDeviceLink(pod.podUid(), target.getParent().getFileName().toString()));
    } else {
      Path dir = target.getParent();
      deleteEmptyDir(target);
      VolData.delete(layout.rootDir(), dir);
      deleteEmptyDir(dir);
    }
  }

  /** NodeUnstageVolume and ControllerUnpublishVolume once no pod uses the volume; then it leaves the actual state. */
  public Future<Void> unmountDevice(AttachedVolume v) {
    VolumeSpec spec = v.spec;
    RegisteredDriver d = driver(spec); // throws OperationException; the executor records it as this operation's failure
    Future<Void> unstage = Future.succeededFuture();
    if (v.device != DeviceState.NOT_MOUNTED && v.stagingPath != null) {
      Path staging = Path.of(v.stagingPath);
      unstage = (d.hasNodeCapability(STAGE_UNSTAGE)
          ? blocking(() -> clearLeaf(spec, "staging path", staging))
              .compose(x -> csi.call(d.name(), d.endpoint(), NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder()
                  .setVolumeId(spec.volumeHandle()).setStagingTargetPath(staging.toString()).build())).<Void>mapEmpty()
          : Future.<Void>succeededFuture())
          .recover(err -> {
            v.device = DeviceState.UNCERTAIN;
            return Future.failedFuture(wrap("NodeUnstageVolume", spec, err));
          })
          .compose(x -> blocking(() -> cleanStaging(spec, staging)))
          .map(x -> {
            v.device = DeviceState.NOT_MOUNTED;
            LOG.info("unstaged volume {} (driver {}) from {}", spec.volumeHandle(), d.name(), staging);
            return null;
          });
    } else {
      v.device = DeviceState.NOT_MOUNTED;
    }
    return whenDriverAway(spec, persistThen(v, unstage.compose(x -> detach(spec, d, v))).map(x -> {
      asw.remove(spec.uniqueName());
      return null;
    }));
  }

  private void cleanStaging(VolumeSpec spec, Path staging) throws IOException {
    if (mounts.isMountPoint(staging)) {
      throw new OperationException("NodeUnstageVolume succeeded but " + staging + " is still a mount point; left in place", true);
    }
    deleteEmptyDir(staging);
    Path dataDir = spec.block() ? layout.blockDataDir(spec.specName()) : staging.getParent();
    VolData.delete(layout.rootDir(), dataDir);
    deleteEmptyDir(dataDir);
    if (spec.block()) {
      deleteEmptyDir(dataDir.getParent());
      deleteEmptyDir(layout.blockPublishPath(spec.specName(), "x").getParent());
    }
  }

  private Future<Void> detach(VolumeSpec spec, RegisteredDriver d, AttachedVolume v) {
    if (!v.attached) {
      return Future.succeededFuture();
    }
    return offersControllerPublish(d)
        .compose(canDetach -> canDetach
            ? csi.call(d.name(), d.endpoint(), ControllerGrpcClient.ControllerUnpublishVolume, ControllerUnpublishVolumeRequest.newBuilder()
                .setVolumeId(spec.volumeHandle()).setNodeId(d.nodeId()).build()).<Boolean>map(r -> true)
            : Future.succeededFuture(false))
        .<Void>map(called -> {
          v.attached = false;
          v.publishContext = Map.of();
          LOG.info(called ? "detached volume {} (driver {}) from node {}"
              : "volume {} (driver {}) counts as detached from node {}: the driver offers no ControllerUnpublishVolume",
              spec.volumeHandle(), d.name(), d.nodeId());
          return null;
        })
        .recover(err -> Future.failedFuture(wrap("ControllerUnpublishVolume", spec, err)));
  }

  // ------------------------------------------------------------------ journal

  /**
   * Records the volume's state as it is now; completes, on the caller's context, once it is durable. The journal
   * keeps the order of appends, so records of one volume land in the order their states were taken.
   */
  private Future<Void> persist(AttachedVolume v) {
    Context ctx = vertx.getOrCreateContext();
    Promise<Void> done = Promise.promise();
    journal.append(ActualStateJournal.snapshot(v, journal.bootId())).whenComplete((r, err) -> ctx.runOnContext(x -> {
      if (err == null) {
        done.complete();
      } else {
        done.fail(err);
      }
    }));
    return done.future();
  }

  /** After an outcome: record it, but report the operation's own result. */
  private <T> Future<T> persistThen(AttachedVolume v, Future<T> outcome) {
    return outcome.transform(ar -> persist(v).transform(w -> {
      if (w.failed()) {
        LOG.error("cannot record the state of volume {} in the journal: {}", v.spec.specName(), w.cause().getMessage());
      }
      return ar.succeeded() ? Future.succeededFuture(ar.result()) : Future.failedFuture(ar.cause());
    }));
  }

  // ------------------------------------------------------------------ request fields

  private RegisteredDriver driver(VolumeSpec spec) {
    return drivers.get(spec.driver()).orElseThrow(() -> new OperationException("CSI driver " + spec.driver()
        + " is not registered; is it running and registered through " + layout.root().resolve("plugins_registry") + "?", false,
        null, spec.driver()));
  }

  /**
   * Marks a failure that came from the driver being away: UNAVAILABLE from its endpoint (nothing listens, the
   * connection broke), or the driver deregistered or unhealthy by the time the failure came back. The executor
   * retries such an operation as soon as the driver registers or turns healthy again, not after its backoff.
   */
  private Future<Void> whenDriverAway(VolumeSpec spec, Future<Void> operation) {
    return operation.recover(err -> {
      if (err instanceof OperationException oe && !oe.unavailableDriver().isEmpty()) {
        return Future.failedFuture(err);
      }
      boolean away = unavailable(err) || drivers.get(spec.driver()).map(d -> !d.healthy()).orElse(true);
      if (!away) {
        return Future.failedFuture(err);
      }
      boolean uncertain = err instanceof OperationException oe ? oe.uncertain() : CsiNodeClient.isUncertain(err);
      return Future.failedFuture(new OperationException(err.getMessage() == null ? err.toString() : err.getMessage(), uncertain,
          err, spec.driver()));
    });
  }

  private static boolean unavailable(Throwable err) {
    for (Throwable t = err; t != null; t = t.getCause()) {
      if (t instanceof GrpcCallException g && g.status() == GrpcStatus.UNAVAILABLE) {
        return true;
      }
    }
    return false;
  }

  static VolumeCapability capability(VolumeSpec spec, RegisteredDriver d, Long mountGroup) {
    VolumeCapability.Builder b = VolumeCapability.newBuilder()
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(AccessModes.toCsi(spec.accessMode(), d)));
    if (spec.block()) {
      b.setBlock(VolumeCapability.BlockVolume.getDefaultInstance());
    } else {
      VolumeCapability.MountVolume.Builder mount = VolumeCapability.MountVolume.newBuilder().setFsType(spec.fsType())
          .addAllMountFlags(spec.mountOptions());
      if (mountGroup != null) {
        mount.setVolumeMountGroup(Long.toString(mountGroup));
      }
      b.setMount(mount);
    }
    return b.build();
  }

  private Map<String, String> volumeContext(VolumeSpec spec, PodToMount pod) {
    Map<String, String> ctx = new HashMap<>(spec.volumeAttributes());
    if (spec.podInfoOnMount()) {
      ctx.put("csi.storage.k8s.io/pod.name", pod.name());
      ctx.put("csi.storage.k8s.io/pod.namespace", pod.namespace());
      ctx.put("csi.storage.k8s.io/pod.uid", pod.podUid());
      ctx.put("csi.storage.k8s.io/serviceAccount.name", pod.serviceAccount());
      ctx.put("csi.storage.k8s.io/ephemeral", Boolean.toString(spec.inline()));
    }
    return ctx;
  }

  private Map<String, String> podData(VolumeSpec spec, String mode) {
    return Map.of(VolData.SPEC_VOL_ID, spec.specName(), VolData.VOLUME_HANDLE, spec.volumeHandle(),
        VolData.DRIVER_NAME, spec.driver(), VolData.NODE_NAME, nodeName,
        VolData.ATTACHMENT_ID, KubeletLayout.attachmentId(spec.volumeHandle(), spec.driver(), nodeName),
        VolData.LIFECYCLE_MODE, mode);
  }

  /** Secret data, decoded; the values never reach a log (CSI requests are logged redacted). */
  private Map<String, String> secrets(VolumeSpec.SecretRef ref) {
    if (ref == null) {
      return Map.of();
    }
    Secret s = objects.get().secret(ref.namespace(), ref.name()).orElseThrow(() ->
        new OperationException("Secret " + ref + " does not exist", false));
    Map<String, String> out = new HashMap<>();
    if (s.getData() != null) {
      s.getData().forEach((k, val) -> out.put(k, new String(Base64.getDecoder().decode(val), StandardCharsets.UTF_8)));
    }
    if (s.getStringData() != null) {
      out.putAll(s.getStringData());
    }
    return out;
  }

  private static OperationException wrap(String call, VolumeSpec spec, Throwable err) {
    if (err instanceof OperationException oe) {
      return oe;
    }
    return new OperationException(call + " of volume " + spec.specName() + " (driver " + spec.driver() + ") failed: "
        + err.getMessage(), CsiNodeClient.isUncertain(err), err, "");
  }

  private void deleteEmptyDir(Path dir) throws IOException {
    try {
      if (layout.rootDir().kind(dir) == RootDir.Kind.DIRECTORY) {
        layout.rootDir().delete(dir);
      }
    } catch (DirectoryNotEmptyException e) {
      LOG.debug("{} is not empty; left in place", dir);
    } catch (SymlinkRefusedException | NotDirectoryException e) {
      LOG.warn("{} {}: not the agent's; left in place", e.getFile(), e.getReason() == null ? "is not a directory" : e.getReason());
    }
  }

  interface IoAction {
    void run() throws Exception;
  }

  private Future<Void> blocking(IoAction action) {
    return vertx.executeBlocking(() -> {
      action.run();
      return null;
    }, false);
  }
}
