package dev.csinode.simulator.driver.memory;

import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGetInfoResponse;
import dev.csinode.csi.v1.NodeGetVolumeStatsRequest;
import dev.csinode.csi.v1.NodeGetVolumeStatsResponse;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeService;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.csinode.csi.v1.VolumeUsage;
import dev.csinode.mount.Directories;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Node of the in-memory driver. Staging "mounts" the volume at the staging path and publishing at the target, in
 * the {@link SimulatedMounts}; the staging and target directories are real, made and removed as a real driver does
 * (the CO makes the staging directory and the target's parent, the driver the target itself), so the node's
 * directory handling runs as on a real node. Files a pod writes into its target stay there while the volume is
 * published; when its last publication goes they move to the volume's own directory, and come back at the next
 * publish: the volume's data outlives its pods as it would on a disk. Stage and publish are idempotent, also
 * after a simulated reboot (recorded but no longer mounted: mounted again). Inline ephemeral volumes are made at
 * their publish and deleted at their last unpublish.
 */
public class MemoryNode extends NodeService {
  private static final Logger LOG = LoggerFactory.getLogger(MemoryNode.class);
  public static final String EPHEMERAL_KEY = "csi.storage.k8s.io/ephemeral";
  /** What an inline ephemeral volume counts against the capacity. */
  static final long EPHEMERAL_BYTES = 100L << 20;

  private final MemoryState state;
  private final SimulatedMounts mounts;
  private final String nodeId;
  private final long maxVolumesPerNode;
  private final long capacityBytes;
  private final Path dataDir;
  private final MemoryRpc rpc;

  /** @param dataDir where a volume's files wait while it is published nowhere: {@code <dataDir>/<volume id>} */
  public MemoryNode(MemoryState state, SimulatedMounts mounts, String nodeId, long maxVolumesPerNode, long capacityBytes,
                    Path dataDir, MemoryRpc rpc) {
    this.state = state;
    this.mounts = mounts;
    this.nodeId = nodeId;
    this.maxVolumesPerNode = maxVolumesPerNode;
    this.capacityBytes = capacityBytes;
    this.dataDir = dataDir;
    this.rpc = rpc;
  }

  // ------------------------------------------------------------------ stage

  @Override
  public Future<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest req) {
    return rpc.runNodeOperation("NodeStageVolume", req.getVolumeId() + " " + req.getStagingTargetPath(), () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      Path staging = path(req.getStagingTargetPath(), "staging_target_path");
      CsiStatus.require(req.hasVolumeCapability(), "volume_capability is required");
      VolumeCapability cap = req.getVolumeCapability();
      validate(cap, "volume_capability");
      refuseLink(staging, "staging_target_path");
      List<String> flags = cap.hasMount() ? cap.getMount().getMountFlagsList() : List.of();
      synchronized (state) {
        MemoryVolume v = existing(id);
        requireFits(v, cap);
        MemoryState.Staged s = state.staged.get(id);
        if (s != null) {
          if (!s.path().equals(staging.toString())) {
            throw CsiStatus.failedPrecondition("volume " + id + " is already staged at " + s.path() + "; unstage it there first");
          }
          if (s.block() != cap.hasBlock() || !s.mountFlags().equals(flags)) {
            throw CsiStatus.alreadyExists("volume " + id + " is already staged at " + staging + " with a different capability or mount flags");
          }
          if (s.block() || mounts.isMountPoint(staging)) {
            return NodeStageVolumeResponse.getDefaultInstance();
          }
          LOG.info("volume {} is recorded as staged at {} but not mounted there (a reboot); mounting it again", id, staging);
        } else {
          checkVolumeLimit(id);
        }
        createDirectory(staging, "staging_target_path");
        if (!cap.hasBlock()) {
          mounts.mount(staging, "memory:" + id);
        }
        state.staged.put(id, new MemoryState.Staged(staging.toString(), cap.hasBlock(), List.copyOf(flags)));
        LOG.debug("staged volume {} at {}", id, staging);
        return NodeStageVolumeResponse.getDefaultInstance();
      }
    });
  }

  @Override
  public Future<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest req) {
    return rpc.runNodeOperation("NodeUnstageVolume", req.getVolumeId() + " " + req.getStagingTargetPath(), () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      Path staging = path(req.getStagingTargetPath(), "staging_target_path");
      refuseLink(staging, "staging_target_path");
      synchronized (state) {
        existing(id);
        MemoryState.Staged s = state.staged.get(id);
        if (s == null || !s.path().equals(staging.toString())) {
          return NodeUnstageVolumeResponse.getDefaultInstance();
        }
        if (state.isPublished(id)) {
          throw CsiStatus.failedPrecondition("volume " + id + " is still published; unpublish it before unstaging it");
        }
        unmountAll(staging);
        state.staged.remove(id);
        LOG.debug("unstaged volume {} from {}", id, staging);
        return NodeUnstageVolumeResponse.getDefaultInstance();
      }
    });
  }

  private void checkVolumeLimit(String id) {
    if (maxVolumesPerNode > 0) {
      long inUse = state.inUse();
      if (inUse >= maxVolumesPerNode) {
        throw CsiStatus.exhausted("node " + nodeId + " already uses " + inUse + " volumes, the maximum (maxVolumesPerNode); "
            + "volume " + id + " cannot be added");
      }
    }
  }

  // ------------------------------------------------------------------ publish

  @Override
  public Future<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest req) {
    return rpc.runNodeOperation("NodePublishVolume", req.getVolumeId() + " " + req.getTargetPath(), () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      Path target = path(req.getTargetPath(), "target_path");
      CsiStatus.require(req.hasVolumeCapability(), "volume_capability is required");
      VolumeCapability cap = req.getVolumeCapability();
      validate(cap, "volume_capability");
      refuseLink(target, "target_path");
      boolean ephemeral = "true".equals(req.getVolumeContextMap().get(EPHEMERAL_KEY));
      List<String> flags = cap.hasMount() ? cap.getMount().getMountFlagsList() : List.of();
      synchronized (state) {
        MemoryState.Published p = state.published.get(target.toString());
        if (p != null && !p.volumeId().equals(id)) {
          throw CsiStatus.alreadyExists("target " + target + " already holds volume " + p.volumeId());
        }
        MemoryVolume v;
        String source;
        boolean created = false;
        if (ephemeral) {
          CsiStatus.require(cap.hasMount(), "inline ephemeral volumes support mount access only");
          created = !state.volumes.containsKey(id);
          v = ephemeral(id);
          source = "memory:" + id;
        } else {
          v = existing(id);
          requireFits(v, cap);
          if (req.getStagingTargetPath().isEmpty()) {
            throw CsiStatus.failedPrecondition("volume " + id + ": staging_target_path is required, this driver has STAGE_UNSTAGE_VOLUME");
          }
          MemoryState.Staged s = state.staged.get(id);
          String staging = Path.of(req.getStagingTargetPath()).normalize().toString();
          if (s == null || !s.path().equals(staging)) {
            throw CsiStatus.failedPrecondition("volume " + id + " is not staged at " + staging + "; call NodeStageVolume first");
          }
          source = cap.hasBlock() ? "memory:" + id : s.path();
        }
        if (p != null) {
          if (p.readOnly() != req.getReadonly() || p.block() != cap.hasBlock() || !p.mountFlags().equals(flags)) {
            throw CsiStatus.alreadyExists("volume " + id + " is already published at " + target + " with readonly="
                + p.readOnly() + " and a possibly different capability");
          }
          if (mounts.isMountPoint(target)) {
            return NodePublishVolumeResponse.getDefaultInstance();
          }
          LOG.info("volume {} is recorded as published at {} but not mounted there (a reboot); mounting it again", id, target);
        } else if (cap.getAccessMode().getMode() == Mode.SINGLE_NODE_SINGLE_WRITER && state.isPublished(id)) {
          throw CsiStatus.failedPrecondition("volume " + id + " has access mode SINGLE_NODE_SINGLE_WRITER and is already published");
        }
        try {
          if (cap.hasBlock()) {
            createFile(target);
          } else {
            createDirectory(target, "target_path");
          }
        } catch (RuntimeException e) {
          if (created) {
            state.remove(v); // an inline volume this call made and could not publish: nothing of it stays
          }
          throw e;
        }
        mounts.mount(target, source);
        if (p == null) {
          boolean first = !state.isPublished(id);
          state.publish(target.toString(), new MemoryState.Published(id, req.getStagingTargetPath(), req.getReadonly(), cap.hasBlock(),
              List.copyOf(flags)));
          if (first && !cap.hasBlock()) {
            moveEntries(dataDir.resolve(id), target);
          }
        }
        LOG.debug("published volume {} at {}", id, target);
        return NodePublishVolumeResponse.getDefaultInstance();
      }
    });
  }

  /** The inline volume, made now if new (counted against the capacity and the volume limit). */
  private MemoryVolume ephemeral(String id) {
    MemoryVolume v = state.volumes.get(id);
    if (v != null) {
      if (!v.ephemeral()) {
        throw CsiStatus.alreadyExists("volume " + id + " exists and is not an inline ephemeral volume");
      }
      return v;
    }
    checkVolumeLimit(id);
    long free = capacityBytes - state.usedBytes;
    if (EPHEMERAL_BYTES > free) {
      throw CsiStatus.exhausted("inline volume " + id + " needs " + EPHEMERAL_BYTES + " bytes but only " + free
          + " of the in-memory driver's capacity remain");
    }
    v = new MemoryVolume(id, id, EPHEMERAL_BYTES, false, true);
    state.add(v);
    return v;
  }

  @Override
  public Future<NodeUnpublishVolumeResponse> nodeUnpublishVolume(NodeUnpublishVolumeRequest req) {
    return rpc.runNodeOperation("NodeUnpublishVolume", req.getVolumeId() + " " + req.getTargetPath(), () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      Path target = path(req.getTargetPath(), "target_path");
      refuseLink(target, "target_path");
      synchronized (state) {
        MemoryVolume v = existing(id);
        MemoryState.Published p = state.published.get(target.toString());
        if (p != null && !p.volumeId().equals(id)) {
          throw CsiStatus.failedPrecondition("target " + target + " holds volume " + p.volumeId() + ", not " + id);
        }
        unmountAll(target);
        if (p != null) {
          state.unpublish(target.toString());
          boolean last = !state.isPublished(id);
          if (last && v.ephemeral()) {
            deleteTree(target, false);
            deleteTree(dataDir.resolve(id), true);
            state.remove(v);
          } else if (last && !v.block()) {
            moveEntries(target, dataDir.resolve(id));
          }
        }
        removeTarget(target);
        LOG.debug("unpublished volume {} from {}", id, target);
        return NodeUnpublishVolumeResponse.getDefaultInstance();
      }
    });
  }

  // ------------------------------------------------------------------ stats, capabilities, info

  @Override
  public Future<NodeGetVolumeStatsResponse> nodeGetVolumeStats(NodeGetVolumeStatsRequest req) {
    return rpc.run("NodeGetVolumeStats", () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      CsiStatus.require(!req.getVolumePath().isEmpty(), "volume_path is required");
      String path = Path.of(req.getVolumePath()).normalize().toString();
      synchronized (state) {
        MemoryVolume v = existing(id);
        MemoryState.Staged s = state.staged.get(id);
        MemoryState.Published p = state.published.get(path);
        if (!(s != null && s.path().equals(path)) && !(p != null && p.volumeId().equals(id))) {
          throw CsiStatus.notFound("volume " + id + " is not staged or published at '" + req.getVolumePath() + "'");
        }
        VolumeUsage.Builder bytes = VolumeUsage.newBuilder().setUnit(VolumeUsage.Unit.BYTES).setTotal(v.capacityBytes());
        if (!v.block()) {
          bytes.setAvailable(v.capacityBytes()).setUsed(0);
        }
        return NodeGetVolumeStatsResponse.newBuilder().addUsage(bytes).build();
      }
    });
  }

  @Override
  public Future<NodeGetCapabilitiesResponse> nodeGetCapabilities(NodeGetCapabilitiesRequest req) {
    return rpc.run("NodeGetCapabilities", () -> {
      NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
      for (var t : List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME, NodeServiceCapability.RPC.Type.GET_VOLUME_STATS)) {
        b.addCapabilities(NodeServiceCapability.newBuilder().setRpc(NodeServiceCapability.RPC.newBuilder().setType(t)));
      }
      return b.build();
    });
  }

  @Override
  public Future<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest req) {
    return rpc.run("NodeGetInfo", () -> NodeGetInfoResponse.newBuilder().setNodeId(nodeId).setMaxVolumesPerNode(maxVolumesPerNode).build());
  }

  // ------------------------------------------------------------------ helpers

  static void validate(VolumeCapability cap, String field) {
    if (cap.getAccessTypeCase() == VolumeCapability.AccessTypeCase.ACCESSTYPE_NOT_SET) {
      throw CsiStatus.invalid(field + ".access_type must be mount or block");
    }
    if (!cap.hasAccessMode() || cap.getAccessMode().getMode() == Mode.UNKNOWN || cap.getAccessMode().getMode() == Mode.UNRECOGNIZED) {
      throw CsiStatus.invalid(field + ".access_mode.mode is required and must be a known mode");
    }
  }

  private static void requireFits(MemoryVolume v, VolumeCapability cap) {
    if (cap.hasBlock() != v.block()) {
      throw CsiStatus.failedPrecondition("volume " + v.id() + " was created for " + (v.block() ? "block" : "mount")
          + " access and cannot be used for " + (cap.hasBlock() ? "block" : "mount") + " access");
    }
  }

  private MemoryVolume existing(String id) {
    MemoryVolume v = state.volumes.get(id);
    if (v == null) {
      throw CsiStatus.notFound("volume '" + id + "' does not exist");
    }
    return v;
  }

  private static Path path(String value, String field) {
    CsiStatus.require(!value.isEmpty(), field + " is required");
    CsiStatus.require(value.indexOf('\0') < 0, field + " contains a NUL character");
    Path p = Path.of(value);
    CsiStatus.require(p.isAbsolute(), field + " '" + value + "' must be an absolute path");
    return p.normalize();
  }

  private static void refuseLink(Path path, String field) {
    if (Files.isSymbolicLink(path)) {
      throw CsiStatus.invalid(field + " '" + path + "' is a symbolic link; it is not followed");
    }
  }

  private static void createDirectory(Path dir, String field) {
    if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      throw CsiStatus.invalid(field + " '" + dir + "' exists and is not a directory");
    }
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + field + " " + dir + ": " + e.getMessage(), e);
    }
  }

  /** A block volume's target is a file the device is bound onto. */
  private static void createFile(Path file) {
    if (Files.isDirectory(file, LinkOption.NOFOLLOW_LINKS)) {
      throw CsiStatus.invalid("target_path '" + file + "' is a directory; a block volume is published onto a file");
    }
    try {
      Files.createDirectories(file.getParent());
      if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
        Files.createFile(file);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create target_path " + file + ": " + e.getMessage(), e);
    }
  }

  private void unmountAll(Path path) {
    while (mounts.unmount(path)) {
      // every layer: a driver leaves nothing mounted where it unpublished or unstaged
    }
  }

  /** Removes the target directory or file once nothing is mounted there; a directory with files in it stays. */
  private void removeTarget(Path target) {
    if (mounts.isMountPoint(target)) {
      throw new IllegalStateException("target " + target + " is still a mount point after unmount; not removing it");
    }
    try {
      Files.deleteIfExists(target);
    } catch (DirectoryNotEmptyException e) {
      LOG.warn("target {} is not empty after unpublish; left in place", target);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove target " + target + ": " + e.getMessage(), e);
    }
  }

  /** Moves what is in {@code from} into {@code to} (made if missing); nothing to do when {@code from} is missing. */
  private static void moveEntries(Path from, Path to) {
    if (!Files.isDirectory(from, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> entries = Files.list(from)) {
      List<Path> all = entries.toList();
      if (all.isEmpty()) {
        return;
      }
      Files.createDirectories(to);
      for (Path e : all) {
        Files.move(e, to.resolve(e.getFileName()));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move the volume's files from " + from + " to " + to + ": " + e.getMessage(), e);
    }
  }

  /**
   * Deletes what is in a directory (links themselves, never what they point to), and the directory too if asked;
   * never a directory with something mounted in it.
   */
  private void deleteTree(Path dir, boolean itself) {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!mounts.beneath(dir).isEmpty()) {
      throw new IllegalStateException("not deleting the files of " + dir + ": " + mounts.beneath(dir) + " is mounted in it");
    }
    try {
      Directories.deleteTree(dir, itself);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot delete the files of " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Deletes a volume's own directory of files (DeleteVolume). */
  void deleteData(String id) {
    deleteTree(dataDir.resolve(id), true);
  }

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
