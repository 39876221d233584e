package dev.csinode.hostpath;

import dev.csinode.csi.v1.*;
import dev.csinode.mount.Filesystems;
import dev.csinode.mount.FsStats;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.Mounter;
import dev.csinode.mount.PathHandle;
import dev.csinode.mount.RootDir;
import dev.csinode.mount.SymlinkRefusedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NotDirectoryException;
import io.vertx.core.Future;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Node service. Staging: a directory volume is bind-mounted at the staging path; a filesystem volume's
 * image is attached to a loop device, formatted ext4 on first use and mounted there; a block volume's image
 * is attached to a loop device. Publishing bind-mounts the staging path (or the loop device, onto a file) at
 * the target path. Ephemeral inline volumes are created on publish and deleted on unpublish.
 */
final class NodeServer extends NodeService {
  private static final Logger LOG = LoggerFactory.getLogger(NodeServer.class);
  static final String EPHEMERAL_KEY = "csi.storage.k8s.io/ephemeral";
  /**
   * What an inline ephemeral volume (a directory, not limited in size) counts against --capacity: the reference
   * hostpath driver's fixed size for them.
   */
  static final long EPHEMERAL_BYTES = 100 * ControllerServer.MIB;

  private final HostpathConfig config;
  private final VolumeStore store;
  private final Storage storage;
  private final Rpc rpc;
  private final Mounter mounter;
  private final LoopDevices loops;
  private final Filesystems filesystems;

  NodeServer(HostpathConfig config, VolumeStore store, Storage storage, Rpc rpc, Mounter mounter,
             LoopDevices loops, Filesystems filesystems) {
    this.config = config;
    this.store = store;
    this.storage = storage;
    this.rpc = rpc;
    this.mounter = mounter;
    this.loops = loops;
    this.filesystems = filesystems;
  }

  // ------------------------------------------------------------------ stage

  @Override
  public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest req) {
    return rpc.run("NodeStageVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      Path staging = path(req.getStagingTargetPath(), "staging_target_path");
      CsiErrors.require(req.hasVolumeCapability(), "volume_capability is required");
      Capabilities.validate(req.getVolumeCapability(), "volume_capability");
      refuseLink(staging, "staging_target_path");
      existing(id);
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        VolumeCapability cap = req.getVolumeCapability();
        String why = Capabilities.incompatibility(v, cap);
        if (why != null) {
          throw CsiErrors.failedPrecondition(why);
        }
        if (config.attachRequired() && !(config.nodeId().equals(req.getPublishContextMap().get(ControllerServer.PUBLISH_CONTEXT_NODE))
            && v.publishedNodes().containsKey(config.nodeId()))) {
          throw CsiErrors.failedPrecondition("volume " + id + " is not attached to node " + config.nodeId()
              + ": call ControllerPublishVolume first and pass its publish_context");
        }
        List<String> flags = cap.hasMount() ? cap.getMount().getMountFlagsList() : List.of();
        if (v.staged() != null) {
          if (!v.staged().path().equals(staging.toString())) {
            throw CsiErrors.failedPrecondition("volume " + id + " is already staged at " + v.staged().path()
                + "; unstage it there first");
          }
          if (v.staged().block() != cap.hasBlock() || !v.staged().mountFlags().equals(flags)) {
            throw CsiErrors.alreadyExists("volume " + id + " is already staged at " + staging
                + " with a different capability or mount flags");
          }
          if (cap.hasBlock() || mounter.isMountPoint(staging)) {
            return NodeStageVolumeResponse.getDefaultInstance();
          }
          LOG.warn("volume {} was recorded as staged at {} but is not mounted there; staging it again", id, staging);
        } else {
          checkVolumeLimit(id);
        }
        HostpathVolume.Staged staged = stage(v, staging, cap, flags);
        try {
          store.putNodeState(v.withStaged(staged));
        } catch (RuntimeException e) {
          // Unrecorded, the mount would outlive the call: NodeUnstageVolume undoes only what is recorded.
          undoStage(v, staged);
          throw e;
        }
        LOG.info("staged volume {} at {}{}", id, staging, staged.loopDevice() == null ? "" : " (" + staged.loopDevice() + ")");
        return NodeStageVolumeResponse.getDefaultInstance();
      });
    });
  }

  private HostpathVolume.Staged stage(HostpathVolume v, Path staging, VolumeCapability cap, List<String> flags) {
    try (PathHandle dir = beneathParent(staging, "staging_target_path", true)) {
      return stage(v, staging, dir, cap, flags);
    }
  }

  private HostpathVolume.Staged stage(HostpathVolume v, Path staging, PathHandle dir, VolumeCapability cap, List<String> flags) {
    if (!cap.hasBlock() && mounter.isMountPoint(staging)) {
      // Mounted by an attempt that died before recording it (driver killed mid-call): adopt, do not stack a second mount.
      LOG.warn("volume {} is already mounted at {} without a record (an interrupted earlier attempt); adopting it", v.id(), staging);
      String device = v.usesImage() ? loops.find(storage.image(v.id())).orElse(null) : null;
      return new HostpathVolume.Staged(staging.toString(), device, false, v.usesImage() ? "ext4" : "", flags);
    }
    if (!v.usesImage()) {
      bind(storage.directory(v.id()), dir, false, flags);
      return new HostpathVolume.Staged(staging.toString(), null, false, "", flags);
    }
    String device = loops.attach(storage.image(v.id()));
    if (cap.hasBlock()) {
      return new HostpathVolume.Staged(staging.toString(), device, true, "", List.of());
    }
    try {
      if (filesystems.probe(device).isEmpty()) {
        LOG.info("formatting volume {} ({}) as ext4", v.id(), device);
        filesystems.formatExt4(device);
      } else if (filesystems.growExt4OfflineIfSmaller(device, v.capacityBytes())) {
        // Offline expansion: the image grew (ControllerExpandVolume) while the volume was not staged.
        LOG.info("grew the filesystem of volume {} ({}) to its {} byte image", v.id(), device, v.capacityBytes());
      }
      mounter.mount(device, dir, "ext4", flags, false);
    } catch (RuntimeException e) {
      loops.detach(device);
      throw e;
    }
    return new HostpathVolume.Staged(staging.toString(), device, false, "ext4", flags);
  }

  private void undoStage(HostpathVolume v, HostpathVolume.Staged staged) {
    try {
      if (!staged.block()) {
        mounter.unmountAll(Path.of(staged.path()));
      }
      if (staged.loopDevice() != null) {
        loops.detach(staged.loopDevice());
      }
    } catch (RuntimeException e) {
      LOG.warn("could not undo the stage of volume {} at {} after its record failed: {}", v.id(), staged.path(), e.getMessage());
    }
  }

  private void checkVolumeLimit(String id) {
    long max = config.maxVolumesPerNode();
    if (max <= 0) {
      return;
    }
    long inUse = store.all().stream().filter(x -> !x.id().equals(id) && x.inUseOnNode()).count();
    if (inUse >= max) {
      throw CsiErrors.exhausted("node " + config.nodeId() + " already uses " + inUse
          + " volumes, the maximum (--max-volumes-per-node); volume " + id + " cannot be added");
    }
  }

  @Override
  public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest req) {
    return rpc.run("NodeUnstageVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      Path staging = path(req.getStagingTargetPath(), "staging_target_path");
      refuseLink(staging, "staging_target_path");
      existing(id);
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        HostpathVolume.Staged s = v.staged();
        if (s == null || !s.path().equals(staging.toString())) {
          return NodeUnstageVolumeResponse.getDefaultInstance();
        }
        if (!v.published().isEmpty()) {
          throw CsiErrors.failedPrecondition("volume " + id + " is still published at "
              + String.join(", ", v.published().keySet()) + "; unpublish it first");
        }
        if (!s.block()) {
          mounter.unmountAll(staging);
        }
        if (s.loopDevice() != null) {
          loops.find(storage.image(v.id())).ifPresent(loops::detach);
        }
        store.putNodeState(v.withStaged(null));
        LOG.info("unstaged volume {} from {}", id, staging);
        return NodeUnstageVolumeResponse.getDefaultInstance();
      });
    });
  }

  // ------------------------------------------------------------------ publish

  @Override
  public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest req) {
    return rpc.run("NodePublishVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      Path target = path(req.getTargetPath(), "target_path");
      CsiErrors.require(req.hasVolumeCapability(), "volume_capability is required");
      Capabilities.validate(req.getVolumeCapability(), "volume_capability");
      refuseLink(target, "target_path");
      boolean ephemeral = "true".equals(req.getVolumeContextMap().get(EPHEMERAL_KEY));
      if (ephemeral) {
        CsiErrors.require(Names.isValidId(id), "volume_id '" + id + "' is not usable as an ephemeral volume name");
        CsiErrors.require(req.getVolumeCapability().hasMount(), "ephemeral volumes support mount access only");
      } else {
        refuseLink(path(req.getStagingTargetPath(), "staging_target_path"), "staging_target_path");
        existing(id);
      }
      return store.exclusive(List.of(id), () -> ephemeral ? publishEphemeral(req, target) : publish(req, target));
    });
  }

  private NodePublishVolumeResponse publish(NodePublishVolumeRequest req, Path target) {
    HostpathVolume v = existing(req.getVolumeId());
    VolumeCapability cap = req.getVolumeCapability();
    String why = Capabilities.incompatibility(v, cap);
    if (why != null) {
      throw CsiErrors.failedPrecondition(why);
    }
    if (v.staged() == null || !v.staged().path().equals(Path.of(req.getStagingTargetPath()).toString())) {
      throw CsiErrors.failedPrecondition("volume " + v.id() + " is not staged at " + req.getStagingTargetPath()
          + "; call NodeStageVolume first");
    }
    if (checkExistingPublication(v, req, target)) {
      return NodePublishVolumeResponse.getDefaultInstance();
    }
    List<String> flags = cap.hasMount() ? cap.getMount().getMountFlagsList() : List.of();
    boolean mounted = false;
    if (adoptable(v, target)) {
      // nothing to mount: an interrupted earlier attempt mounted it
    } else if (cap.hasBlock()) {
      publishBlock(v, target, req.getReadonly());
      mounted = true;
    } else {
      try (PathHandle dir = beneathParent(target, "target_path", true)) {
        bind(Path.of(v.staged().path()), dir, req.getReadonly(), flags);
      }
      mounted = true;
    }
    try {
      store.putNodeState(v.withPublished(target.toString(), new HostpathVolume.Published(req.getStagingTargetPath(),
          req.getReadonly(), cap.hasBlock(), cap.getAccessMode().getModeValue(), flags)));
    } catch (RuntimeException e) {
      if (mounted) {
        unmountQuietly(v, target);
      }
      throw e;
    }
    LOG.info("published volume {} at {}{}", v.id(), target, req.getReadonly() ? " (read-only)" : "");
    return NodePublishVolumeResponse.getDefaultInstance();
  }

  private void unmountQuietly(HostpathVolume v, Path target) {
    try {
      mounter.unmountAll(target);
    } catch (RuntimeException e) {
      LOG.warn("could not undo the publish of volume {} at {} after its record failed: {}", v.id(), target, e.getMessage());
    }
  }

  /** A target mounted although no publication is recorded: an earlier attempt died between mount and record. */
  private boolean adoptable(HostpathVolume v, Path target) {
    if (!v.published().containsKey(target.toString()) && mounter.isMountPoint(target)) {
      LOG.warn("volume {} is already mounted at {} without a record (an interrupted earlier attempt); adopting it", v.id(), target);
      return true;
    }
    return false;
  }

  /** True when this exact publication exists and is mounted; throws when a conflicting one exists. */
  private boolean checkExistingPublication(HostpathVolume v, NodePublishVolumeRequest req, Path target) {
    HostpathVolume.Published p = v.published().get(target.toString());
    VolumeCapability cap = req.getVolumeCapability();
    if (p != null) {
      List<String> flags = cap.hasMount() ? cap.getMount().getMountFlagsList() : List.of();
      if (p.readOnly() != req.getReadonly() || p.block() != cap.hasBlock() || !p.mountFlags().equals(flags)) {
        throw CsiErrors.alreadyExists("volume " + v.id() + " is already published at " + target
            + " with readonly=" + p.readOnly() + " and a possibly different capability");
      }
      if (mounter.isMountPoint(target)) {
        return true;
      }
      LOG.warn("volume {} was recorded as published at {} but is not mounted there; publishing it again", v.id(), target);
      return false;
    }
    var mode = cap.getAccessMode().getMode();
    if (!v.published().isEmpty() && mode == VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER) {
      throw CsiErrors.failedPrecondition("volume " + v.id() + " has access mode SINGLE_NODE_SINGLE_WRITER and is "
          + "already published at " + v.published().keySet().iterator().next());
    }
    return false;
  }

  private void publishBlock(HostpathVolume v, Path target, boolean readOnly) {
    String device = v.staged().loopDevice();
    try (PathHandle file = beneathParent(target, "target_path", false)) {
      bind(Path.of(device), file, readOnly, List.of());
    }
  }

  private NodePublishVolumeResponse publishEphemeral(NodePublishVolumeRequest req, Path target) {
    String id = req.getVolumeId();
    HostpathVolume v = store.volume(id).orElse(null);
    boolean created = v == null;
    if (created) {
      checkVolumeLimit(id);
      v = createEphemeral(id);
    } else if (!v.ephemeral()) {
      throw CsiErrors.alreadyExists("volume " + id + " exists and is not ephemeral");
    }
    boolean madeTarget = false;
    boolean mounted = false;
    try {
      if (checkExistingPublication(v, req, target)) {
        return NodePublishVolumeResponse.getDefaultInstance();
      }
      List<String> flags = req.getVolumeCapability().getMount().getMountFlagsList();
      if (!adoptable(v, target)) {
        madeTarget = !Files.exists(target, LinkOption.NOFOLLOW_LINKS);
        try (PathHandle dir = beneathParent(target, "target_path", true)) {
          bind(storage.directory(id), dir, req.getReadonly(), flags);
        }
        mounted = true;
      }
      store.putNodeState(v.withPublished(target.toString(), new HostpathVolume.Published("", req.getReadonly(), false,
          req.getVolumeCapability().getAccessMode().getModeValue(), flags)));
    } catch (RuntimeException e) {
      if (created) {
        discardEphemeral(v, target, mounted, madeTarget);
      }
      throw e;
    }
    LOG.info("published ephemeral volume {} at {}", id, target);
    return NodePublishVolumeResponse.getDefaultInstance();
  }

  /**
   * Makes an inline ephemeral volume, if it fits in what is left of --capacity (RESOURCE_EXHAUSTED otherwise, as for
   * CreateVolume). The caller holds the id's operation lock. A failure leaves no directory and no record.
   */
  private HostpathVolume createEphemeral(String id) {
    HostpathVolume v = new HostpathVolume(id, id, VolumeKind.DIRECTORY, false, EPHEMERAL_BYTES, Map.of(), null, null,
        true, System.currentTimeMillis(), Map.of(), null, Map.of());
    store.serialized(() -> {
      long free = store.freeBytes(config.capacityBytes());
      if (v.capacityBytes() > free) {
        throw CsiErrors.exhausted("ephemeral volume " + id + " needs " + v.capacityBytes() + " bytes but only " + free
            + " of the driver's --capacity remain");
      }
      if (!store.reserveEphemeral(id, v.capacityBytes())) {
        throw CsiErrors.aborted("ephemeral volume " + id + " is already being created; retry later");
      }
      return null;
    });
    try {
      storage.createEmpty(v);
      store.add(v);
    } catch (IOException | RuntimeException e) {
      try {
        storage.delete(v);
      } catch (IOException | RuntimeException cleanup) {
        LOG.warn("could not remove partial data of ephemeral volume {} after its creation failed: {}", id, cleanup.getMessage());
      }
      throw CsiErrors.creationFailed("ephemeral volume " + id, e);
    } finally {
      store.releaseEphemeral(id);
    }
    LOG.info("created ephemeral volume {}", id);
    return v;
  }

  /**
   * Undoes an inline volume this publish created and could not publish: its mount, the target it made, its record,
   * then its data. When the record cannot be removed the data stays with it, so the two still agree: the CO's
   * retry publishes the volume, its NodeUnpublishVolume deletes it.
   */
  private void discardEphemeral(HostpathVolume v, Path target, boolean mounted, boolean madeTarget) {
    try {
      if (mounted) {
        mounter.unmountAll(target);
      }
      if (madeTarget && !mounter.isMountPoint(target)) {
        Files.deleteIfExists(target);
      }
      store.removeVolume(v.id());
      storage.delete(v);
      LOG.info("deleted ephemeral volume {}: its publish at {} failed", v.id(), target);
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not undo ephemeral volume {} after its publish at {} failed: {}", v.id(), target, e.getMessage());
    }
  }

  @Override
  public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest req) {
    return rpc.run("NodeUnpublishVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      Path target = path(req.getTargetPath(), "target_path");
      refuseLink(target, "target_path");
      existing(id);
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        HostpathVolume.Published p = v.published().get(target.toString());
        if (p != null || mounter.isMountPoint(target)) {
          mounter.unmountAll(target);
        }
        removeTarget(target);
        if (p != null) {
          v = v.withPublished(target.toString(), null);
          store.putNodeState(v);
          LOG.info("unpublished volume {} from {}", id, target);
        }
        if (v.ephemeral() && v.published().isEmpty()) {
          try {
            storage.delete(v);
          } catch (IOException e) {
            throw CsiErrors.internal("unpublished ephemeral volume " + id + " but cannot delete it: " + e.getMessage());
          }
          store.removeVolume(id);
          LOG.info("deleted ephemeral volume {}", id);
        }
        return NodeUnpublishVolumeResponse.getDefaultInstance();
      });
    });
  }

  /**
   * A target or staging path that is a symbolic link is refused: the CO's directory above it may be reached through
   * links (a kubelet root often is one), the path itself never.
   */
  private static void refuseLink(Path path, String field) {
    if (RootDir.isSymbolicLink(path)) {
      throw CsiErrors.invalid(field + " '" + path + "' is a symbolic link; it is not followed (remove it: the driver "
          + "makes the " + (field.equals("target_path") ? "target" : "staging") + " directory itself)");
    }
  }

  /**
   * Opens (making it if missing) the directory, or for a block target the file, at path beneath its parent without
   * following a link: the parent is the CO's and is made if missing, as before; what is below it is the driver's.
   * A link there, or something else than what belongs there, is INVALID_ARGUMENT naming it. Mounts go onto the
   * returned descriptor, so a link swapped in after this check is not followed either.
   */
  private static PathHandle beneathParent(Path path, String field, boolean directory) {
    try {
      return RootDir.createBeneathParent(path, directory, directory ? 0750 : 0640, 0750);
    } catch (SymlinkRefusedException | NotDirectoryException | FileAlreadyExistsException e) {
      throw CsiErrors.invalid(field + " '" + path + "' " + (e instanceof SymlinkRefusedException ? "is a symbolic link; it is not followed"
          : "is not a " + (directory ? "directory" : "regular file") + " (" + e.getMessage() + ")"));
    } catch (IOException e) {
      throw CsiErrors.internal("cannot create " + field + " " + path + ": " + e.getMessage());
    }
  }

  private void bind(Path source, PathHandle target, boolean readOnly, List<String> flags) {
    try {
      mounter.bind(source, target, readOnly, flags);
    } catch (IOException e) {
      throw CsiErrors.internal("cannot bind-mount " + source + " at " + target.path() + ": " + e.getMessage());
    }
  }

  /** Removes the target directory or block file, but only once nothing is mounted on it. */
  private void removeTarget(Path target) {
    if (mounter.isMountPoint(target)) {
      throw CsiErrors.internal("target " + target + " is still a mount point after unmount; not removing it");
    }
    try {
      Files.deleteIfExists(target);
    } catch (DirectoryNotEmptyException e) {
      LOG.warn("target {} is not empty after unmount; left in place", target);
    } catch (IOException e) {
      throw CsiErrors.internal("cannot remove target " + target + ": " + e.getMessage());
    }
  }

  // ------------------------------------------------------------------ stats, expansion, info

  @Override
  public Future<NodeGetVolumeStatsResponse> nodeGetVolumeStats(NodeGetVolumeStatsRequest req) {
    return rpc.run("NodeGetVolumeStats", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      CsiErrors.require(!req.getVolumePath().isEmpty(), "volume_path is required");
      HostpathVolume v = existing(id);
      Path path = whereStagedOrPublished(v, req.getVolumePath());
      if (!Files.exists(path)) {
        throw CsiErrors.notFound("volume_path " + path + " of volume " + id + " does not exist");
      }
      VolumeCondition condition = condition(v, path);
      NodeGetVolumeStatsResponse.Builder b = NodeGetVolumeStatsResponse.newBuilder().setVolumeCondition(condition);
      if (v.block()) {
        return b.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(v.capacityBytes())).build();
      }
      FsStats s = FsStats.of(path.toString());
      return b.addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(s.totalBytes())
              .setAvailable(s.availableBytes()).setUsed(s.usedBytes()))
          .addUsage(VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.INODES).setTotal(s.totalInodes())
              .setAvailable(s.freeInodes()).setUsed(s.usedInodes()))
          .build();
    });
  }

  private VolumeCondition condition(HostpathVolume v, Path path) {
    if (!storage.exists(v)) {
      return VolumeCondition.newBuilder().setAbnormal(true)
          .setMessage("data of volume " + v.id() + " is missing at " + storage.dataPath(v)).build();
    }
    if (!v.block() && !mounter.isMountPoint(path)) {
      return VolumeCondition.newBuilder().setAbnormal(true)
          .setMessage(path + " is not mounted; the volume's mount was lost").build();
    }
    return VolumeCondition.newBuilder().setAbnormal(false).setMessage("volume is healthy").build();
  }

  @Override
  public Future<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest req) {
    return rpc.run("NodeExpandVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      CsiErrors.require(!req.getVolumePath().isEmpty(), "volume_path is required");
      existing(id);
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        whereStagedOrPublished(v, req.getVolumePath());
        if (req.hasVolumeCapability()) {
          Capabilities.validate(req.getVolumeCapability(), "volume_capability");
        }
        long required = req.hasCapacityRange() ? req.getCapacityRange().getRequiredBytes() : 0;
        if (required > v.capacityBytes()) {
          throw CsiErrors.outOfRange("volume " + id + " has " + v.capacityBytes() + " bytes; call "
              + "ControllerExpandVolume to grow it to " + required + " before NodeExpandVolume");
        }
        if (v.usesImage() && v.staged() != null && v.staged().loopDevice() != null) {
          String device = v.staged().loopDevice();
          loops.refreshCapacity(device);
          if (!v.block()) {
            try {
              filesystems.growExt4Online(device);
            } catch (Filesystems.OnlineResizeDenied e) {
              throw CsiErrors.failedPrecondition("volume " + id + ": " + e.getMessage() + "; the filesystem grows "
                  + "offline at the next NodeStageVolume (unpublish and unstage the volume, then stage it again)");
            }
          }
          LOG.info("expanded filesystem of volume {} on {} to {} bytes", id, device, v.capacityBytes());
        }
        return NodeExpandVolumeResponse.newBuilder().setCapacityBytes(v.capacityBytes()).build();
      });
    });
  }

  @Override
  public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest req) {
    NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
    for (var t : List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME, NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
        NodeServiceCapability.RPC.Type.EXPAND_VOLUME, NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
        NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
      b.addCapabilities(NodeServiceCapability.newBuilder().setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
    }
    return Future.succeededFuture(b.build());
  }

  @Override
  public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest req) {
    return Future.succeededFuture(NodeGetInfoResponse.newBuilder()
        .setNodeId(config.nodeId())
        .setMaxVolumesPerNode(config.maxVolumesPerNode())
        .setAccessibleTopology(Topology.newBuilder().putSegments(HostpathConfig.TOPOLOGY_KEY, config.nodeId()))
        .build());
  }

  // ------------------------------------------------------------------ helpers

  private HostpathVolume existing(String id) {
    if (!Names.isValidId(id)) {
      throw CsiErrors.notFound("volume '" + id + "' does not exist (not a volume id of this driver)");
    }
    return store.volume(id).orElseThrow(() -> CsiErrors.notFound("volume '" + id + "' does not exist"));
  }

  /**
   * The volume_path of NodeGetVolumeStats and NodeExpandVolume, which must be where the volume is staged or published:
   * anything else, a relative or malformed path included, is NOT_FOUND before any other check of the path (the
   * spec's and csi-sanity's order; only an empty path is INVALID_ARGUMENT, checked by the caller).
   */
  private static Path whereStagedOrPublished(HostpathVolume v, String volumePath) {
    // Spelled as the CO may spell a path it staged or published at ("//", a trailing "/"): compared as recorded.
    String recorded = Names.pathProblem(volumePath) == null ? Path.of(volumePath).toString() : null;
    if (recorded == null || !(v.published().containsKey(recorded)
        || (v.staged() != null && v.staged().path().equals(recorded)))) {
      throw CsiErrors.notFound("volume " + v.id() + " is not staged or published at '" + volumePath + "'");
    }
    return Path.of(recorded);
  }

  private static Path path(String value, String field) {
    CsiErrors.require(!value.isEmpty(), field + " is required");
    String problem = Names.pathProblem(value);
    CsiErrors.require(problem == null, field + " '" + value + "' " + problem);
    return Path.of(value);
  }
}
