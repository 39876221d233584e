package dev.csinode.hostpath;

import com.google.protobuf.Int64Value;
import com.google.protobuf.Timestamp;
import dev.csinode.csi.v1.*;
import io.vertx.core.Future;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** CSI Controller service: volumes, snapshots, capacity, and (with --attach-required) attach and detach. */
final class ControllerServer extends ControllerService {
  private static final Logger LOG = LoggerFactory.getLogger(ControllerServer.class);
  static final long GIB = 1L << 30;
  static final long MIB = 1L << 20;
  /** ext4 needs room for its metadata and journal. */
  static final long MIN_FILESYSTEM_BYTES = 16 * MIB;
  static final String PUBLISH_CONTEXT_NODE = "hostpath.csinode.dev/attached-node";

  private final HostpathConfig config;
  private final VolumeStore store;
  private final Storage storage;
  private final Rpc rpc;

  ControllerServer(HostpathConfig config, VolumeStore store, Storage storage, Rpc rpc) {
    this.config = config;
    this.store = store;
    this.storage = storage;
    this.rpc = rpc;
  }

  // ------------------------------------------------------------------ volumes

  @Override
  public Future<CreateVolumeResponse> createVolume(CreateVolumeRequest req) {
    return rpc.run("CreateVolume", req, () -> {
      CsiErrors.require(!req.getName().isEmpty(), "name is required");
      String problem = Names.nameProblem(req.getName());
      CsiErrors.require(problem == null, "name " + problem);
      Capabilities.validateAll(req.getVolumeCapabilitiesList(), "volume_capabilities");
      boolean block = req.getVolumeCapabilitiesList().stream().anyMatch(VolumeCapability::hasBlock);
      boolean mount = req.getVolumeCapabilitiesList().stream().anyMatch(VolumeCapability::hasMount);
      CsiErrors.require(!(block && mount), "volume_capabilities mix block and mount access; a volume is one or the other");
      VolumeKind kind = kindOf(req.getParametersMap(), block);
      long size = size(req.hasCapacityRange() ? req.getCapacityRange() : CapacityRange.getDefaultInstance(), kind);
      checkTopology(req);
      checkSourceExists(req);
      boolean fromSource = req.hasVolumeContentSource();
      // Names are decided under the store's lock; the slow part (directory or image, state record) of a plain
      // create runs outside it, so a burst of CreateVolume calls proceeds in parallel. A second call for a name
      // being created gets ABORTED, as the spec asks. Creating from a source stays under the lock.
      HostpathVolume planned = store.serialized(() -> {
        var existing = store.volumeByName(req.getName());
        if (existing.isPresent()) {
          return sameAs(existing.get(), req, kind, block);
        }
        long free = store.freeBytes(config.capacityBytes());
        if (size > free) {
          throw CsiErrors.exhausted("volume " + req.getName() + " needs " + size + " bytes but only " + free
              + " of the driver's --capacity remain");
        }
        if (!store.reserve(req.getName(), size)) {
          throw CsiErrors.aborted("CreateVolume of volume name " + req.getName() + " is already in progress; retry later");
        }
        HostpathVolume v = new HostpathVolume(UUID.randomUUID().toString(), req.getName(), kind, block, size,
            req.getParametersMap(), null, null, false, System.currentTimeMillis(), Map.of(), null, Map.of());
        return fromSource ? create(v, req.getVolumeContentSource()) : v;
      });
      if (fromSource || store.volume(planned.id()).isPresent()) {
        return CreateVolumeResponse.newBuilder().setVolume(toCsi(planned)).build();
      }
      return CreateVolumeResponse.newBuilder().setVolume(toCsi(create(planned, null))).build();
    });
  }

  /**
   * Makes the volume's storage and records it; its name and capacity stay reserved until it is visible. A failure
   * (a full state disk, a copy that fails) leaves nothing: no directory, no image, no record.
   */
  private HostpathVolume create(HostpathVolume planned, VolumeContentSource source) {
    try {
      HostpathVolume v = populate(planned, source);
      store.add(v);
      LOG.info("created volume {} (name {}, kind {}, {}, {} bytes)", v.id(), v.name(), v.kind().parameter(),
          v.block() ? "block" : "mount", v.capacityBytes());
      return v;
    } catch (IOException | RuntimeException e) {
      discard(planned);
      throw CsiErrors.creationFailed("volume " + planned.name(), e);
    } finally {
      store.release(planned.name());
    }
  }

  /** Removes what a failed creation made of a volume; its id is new, so nothing else can be there. */
  private void discard(HostpathVolume v) {
    try {
      storage.delete(v);
    } catch (IOException | RuntimeException e) {
      LOG.warn("could not remove partial data of volume {} ({}) after its creation failed: {}", v.id(),
          storage.dataPath(v), e.getMessage());
    }
  }

  private VolumeKind kindOf(Map<String, String> parameters, boolean block) {
    for (String key : parameters.keySet()) {
      if (!key.equals("kind") && !key.startsWith("csi.storage.k8s.io/")) {
        throw CsiErrors.invalid("parameter '" + key + "' is not supported; the only parameter is 'kind'");
      }
    }
    String kindParam = parameters.get("kind");
    if (kindParam == null) {
      return block ? VolumeKind.FILESYSTEM : VolumeKind.DIRECTORY;
    }
    VolumeKind kind = VolumeKind.fromParameter(kindParam);
    if (block && kind == VolumeKind.DIRECTORY) {
      throw CsiErrors.invalid("kind 'directory' cannot serve block access; use kind 'filesystem' (an image on a loop device)");
    }
    return kind;
  }

  private long size(CapacityRange range, VolumeKind kind) {
    long required = range.getRequiredBytes();
    long limit = range.getLimitBytes();
    CsiErrors.require(required >= 0, "capacity_range.required_bytes must not be negative");
    CsiErrors.require(limit >= 0, "capacity_range.limit_bytes must not be negative");
    if (limit > 0 && required > limit) {
      throw CsiErrors.invalid("capacity_range.required_bytes (" + required + ") exceeds limit_bytes (" + limit + ")");
    }
    long min = kind == VolumeKind.FILESYSTEM ? MIN_FILESYSTEM_BYTES : 1;
    long size = required > 0 ? required : Math.min(GIB, limit > 0 ? limit : GIB);
    size = Math.max(size, min);
    if (size > config.capacityBytes()) {
      throw CsiErrors.outOfRange("requested " + size + " bytes exceeds the driver's total --capacity of "
          + config.capacityBytes() + " bytes");
    }
    long rounded = (size + 4095) / 4096 * 4096;
    if (limit == 0 || rounded <= limit) {
      size = rounded;
    }
    if (limit > 0 && size > limit) {
      throw CsiErrors.outOfRange("capacity_range.limit_bytes " + limit + " is below the smallest " + kind.parameter()
          + " volume this driver makes (" + min + " bytes)");
    }
    if (size > config.capacityBytes()) {
      throw CsiErrors.outOfRange("requested " + size + " bytes exceeds the driver's total --capacity of "
          + config.capacityBytes() + " bytes");
    }
    return size;
  }

  private void checkTopology(CreateVolumeRequest req) {
    if (!req.hasAccessibilityRequirements()) {
      return;
    }
    TopologyRequirement t = req.getAccessibilityRequirements();
    List<Topology> all = new ArrayList<>(t.getRequisiteList());
    all.addAll(t.getPreferredList());
    if (all.isEmpty()) {
      return;
    }
    boolean ours = all.stream().anyMatch(top -> config.nodeId().equals(top.getSegmentsMap().get(HostpathConfig.TOPOLOGY_KEY)));
    if (!ours) {
      throw CsiErrors.exhausted("accessibility_requirements cannot be met: this driver only provisions on "
          + HostpathConfig.TOPOLOGY_KEY + "=" + config.nodeId());
    }
  }

  /** A missing source is the caller's error, reported before any capacity question. */
  private void checkSourceExists(CreateVolumeRequest req) {
    VolumeContentSource src = req.getVolumeContentSource();
    if (src.hasSnapshot() && store.snapshot(src.getSnapshot().getSnapshotId()).isEmpty()) {
      throw CsiErrors.notFound("volume_content_source.snapshot.snapshot_id: snapshot '"
          + src.getSnapshot().getSnapshotId() + "' does not exist");
    }
    if (src.hasVolume() && store.volume(src.getVolume().getVolumeId()).isEmpty()) {
      throw CsiErrors.notFound("volume_content_source.volume.volume_id: volume '"
          + src.getVolume().getVolumeId() + "' does not exist");
    }
  }

  private HostpathVolume sameAs(HostpathVolume v, CreateVolumeRequest req, VolumeKind kind, boolean block) {
    CapacityRange r = req.getCapacityRange();
    boolean sizeOk = v.capacityBytes() >= r.getRequiredBytes() && (r.getLimitBytes() == 0 || v.capacityBytes() <= r.getLimitBytes());
    String src = req.getVolumeContentSource().hasSnapshot() ? req.getVolumeContentSource().getSnapshot().getSnapshotId() : null;
    String vsrc = req.getVolumeContentSource().hasVolume() ? req.getVolumeContentSource().getVolume().getVolumeId() : null;
    if (!sizeOk || v.kind() != kind || v.block() != block || !Objects.equals(src, v.sourceSnapshotId())
        || !Objects.equals(vsrc, v.sourceVolumeId())) {
      throw CsiErrors.alreadyExists("volume name '" + req.getName() + "' is taken by volume " + v.id()
          + " with a different size, kind, access type or content source");
    }
    return v;
  }

  /** Makes the volume's data, empty or from its source; the caller removes what a failure left. */
  private HostpathVolume populate(HostpathVolume v, VolumeContentSource source) throws IOException {
    if (source == null || source.getTypeCase() == VolumeContentSource.TypeCase.TYPE_NOT_SET) {
      storage.createEmpty(v);
      return v;
    }
    if (source.hasSnapshot()) {
      String sid = source.getSnapshot().getSnapshotId();
      HostpathSnapshot s = store.snapshot(sid).orElseThrow(() ->
          CsiErrors.notFound("volume_content_source.snapshot.snapshot_id: snapshot '" + sid + "' does not exist"));
      checkSourceFits(v, s.kind(), s.block(), s.sizeBytes(), "snapshot " + sid);
      v = new HostpathVolume(v.id(), v.name(), v.kind(), v.block(), v.capacityBytes(), v.parameters(), sid, null,
          false, v.createdAtMillis(), Map.of(), null, Map.of());
      storage.restoreSnapshot(s, v);
      return v;
    }
    String vid = source.getVolume().getVolumeId();
    HostpathVolume src = store.volume(vid).orElseThrow(() ->
        CsiErrors.notFound("volume_content_source.volume.volume_id: volume '" + vid + "' does not exist"));
    checkSourceFits(v, src.kind(), src.block(), src.capacityBytes(), "volume " + vid);
    v = new HostpathVolume(v.id(), v.name(), v.kind(), v.block(), v.capacityBytes(), v.parameters(), null, vid,
        false, v.createdAtMillis(), Map.of(), null, Map.of());
    storage.cloneVolume(src, v);
    return v;
  }

  private static void checkSourceFits(HostpathVolume v, VolumeKind kind, boolean block, long size, String what) {
    if (kind != v.kind() || block != v.block()) {
      throw CsiErrors.invalid("volume_content_source: " + what + " is of kind " + kind.parameter()
          + (block ? " (block)" : "") + " and cannot fill a " + v.kind().parameter() + (v.block() ? " block" : "") + " volume");
    }
    if (size > v.capacityBytes()) {
      throw CsiErrors.outOfRange("volume_content_source: " + what + " holds " + size
          + " bytes, more than the requested capacity of " + v.capacityBytes());
    }
  }

  @Override
  public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest req) {
    return rpc.run("DeleteVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      if (!Names.isValidId(id)) {
        return DeleteVolumeResponse.getDefaultInstance();
      }
      return store.exclusive(List.of(id), () -> {
        var v = store.volume(id);
        if (v.isEmpty()) {
          return DeleteVolumeResponse.getDefaultInstance();
        }
        if (v.get().inUseOnNode()) {
          throw CsiErrors.failedPrecondition("volume " + id + " is still staged or published on node "
              + config.nodeId() + "; unpublish and unstage it first");
        }
        try {
          storage.delete(v.get());
        } catch (IOException e) {
          throw CsiErrors.internal("cannot delete data of volume " + id + ": " + e.getMessage());
        }
        store.removeVolume(id);
        LOG.info("deleted volume {} (name {})", id, v.get().name());
        return DeleteVolumeResponse.getDefaultInstance();
      });
    });
  }

  @Override
  public Future<ControllerPublishVolumeResponse> controllerPublishVolume(ControllerPublishVolumeRequest req) {
    return rpc.run("ControllerPublishVolume", req, () -> {
      requireAttach("ControllerPublishVolume");
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      CsiErrors.require(!req.getNodeId().isEmpty(), "node_id is required");
      CsiErrors.require(req.hasVolumeCapability(), "volume_capability is required");
      Capabilities.validate(req.getVolumeCapability(), "volume_capability");
      HostpathVolume v0 = existing(id);
      if (!req.getNodeId().equals(config.nodeId())) {
        throw CsiErrors.notFound("node '" + req.getNodeId() + "' does not exist; this driver serves node " + config.nodeId());
      }
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        String why = Capabilities.incompatibility(v, req.getVolumeCapability());
        if (why != null) {
          throw CsiErrors.failedPrecondition(why);
        }
        Boolean ro = v.publishedNodes().get(req.getNodeId());
        if (ro != null && ro != req.getReadonly()) {
          throw CsiErrors.alreadyExists("volume " + id + " is already published to node " + req.getNodeId()
              + " with readonly=" + ro);
        }
        if (ro == null) {
          long attached = store.all().stream().filter(x -> x.publishedNodes().containsKey(req.getNodeId())).count();
          if (config.maxVolumesPerNode() > 0 && attached >= config.maxVolumesPerNode()) {
            throw CsiErrors.exhausted("node " + req.getNodeId() + " already has " + attached
                + " volumes attached, the maximum (--max-volumes-per-node)");
          }
          store.put(v.withPublishedNode(req.getNodeId(), req.getReadonly()));
          LOG.info("attached volume {} to node {}", id, req.getNodeId());
        }
        return ControllerPublishVolumeResponse.newBuilder()
            .putPublishContext(PUBLISH_CONTEXT_NODE, req.getNodeId()).build();
      });
    });
  }

  @Override
  public Future<ControllerUnpublishVolumeResponse> controllerUnpublishVolume(ControllerUnpublishVolumeRequest req) {
    return rpc.run("ControllerUnpublishVolume", req, () -> {
      requireAttach("ControllerUnpublishVolume");
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      existing(id);
      return store.exclusive(List.of(id), () -> {
        HostpathVolume v = existing(id);
        if (req.getNodeId().isEmpty()) {
          for (String node : v.publishedNodes().keySet()) {
            v = v.withPublishedNode(node, null);
          }
        } else {
          v = v.withPublishedNode(req.getNodeId(), null);
        }
        store.put(v);
        return ControllerUnpublishVolumeResponse.getDefaultInstance();
      });
    });
  }

  private void requireAttach(String rpcName) {
    if (!config.attachRequired()) {
      throw CsiErrors.unimplemented(rpcName + " is not supported: the driver runs without --attach-required");
    }
  }

  @Override
  public Future<ValidateVolumeCapabilitiesResponse> validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest req) {
    return rpc.run("ValidateVolumeCapabilities", req, () -> {
      CsiErrors.require(!req.getVolumeId().isEmpty(), "volume_id is required");
      Capabilities.validateAll(req.getVolumeCapabilitiesList(), "volume_capabilities");
      HostpathVolume v = existing(req.getVolumeId());
      for (VolumeCapability cap : req.getVolumeCapabilitiesList()) {
        String why = Capabilities.incompatibility(v, cap);
        if (why != null) {
          return ValidateVolumeCapabilitiesResponse.newBuilder().setMessage(why).build();
        }
      }
      return ValidateVolumeCapabilitiesResponse.newBuilder().setConfirmed(
          ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
              .putAllVolumeContext(req.getVolumeContextMap())
              .addAllVolumeCapabilities(req.getVolumeCapabilitiesList())
              .putAllParameters(req.getParametersMap())).build();
    });
  }

  @Override
  public Future<ListVolumesResponse> listVolumes(ListVolumesRequest req) {
    return rpc.run("ListVolumes", req, () -> {
      List<HostpathVolume> all = store.volumes();
      Page page = Page.of(req.getMaxEntries(), req.getStartingToken(), all.size());
      ListVolumesResponse.Builder b = ListVolumesResponse.newBuilder().setNextToken(page.nextToken());
      for (HostpathVolume v : all.subList(page.from(), page.to())) {
        b.addEntries(ListVolumesResponse.Entry.newBuilder().setVolume(toCsi(v)).setStatus(
            ListVolumesResponse.VolumeStatus.newBuilder().addAllPublishedNodeIds(publishedNodes(v))
                .setVolumeCondition(condition(v))));
      }
      return b.build();
    });
  }

  @Override
  public Future<ControllerGetVolumeResponse> controllerGetVolume(ControllerGetVolumeRequest req) {
    return rpc.run("ControllerGetVolume", req, () -> {
      CsiErrors.require(!req.getVolumeId().isEmpty(), "volume_id is required");
      HostpathVolume v = existing(req.getVolumeId());
      return ControllerGetVolumeResponse.newBuilder().setVolume(toCsi(v)).setStatus(
          ControllerGetVolumeResponse.VolumeStatus.newBuilder().addAllPublishedNodeIds(publishedNodes(v))
              .setVolumeCondition(condition(v))).build();
    });
  }

  private List<String> publishedNodes(HostpathVolume v) {
    List<String> nodes = new ArrayList<>(v.publishedNodes().keySet());
    if (!config.attachRequired() && v.inUseOnNode() && !nodes.contains(config.nodeId())) {
      nodes.add(config.nodeId());
    }
    return nodes;
  }

  private VolumeCondition condition(HostpathVolume v) {
    if (!storage.exists(v)) {
      return VolumeCondition.newBuilder().setAbnormal(true)
          .setMessage("data of volume " + v.id() + " is missing at " + storage.dataPath(v)).build();
    }
    return VolumeCondition.newBuilder().setAbnormal(false).setMessage("volume is healthy").build();
  }

  @Override
  public Future<GetCapacityResponse> getCapacity(GetCapacityRequest req) {
    return rpc.run("GetCapacity", req, () -> {
      for (int i = 0; i < req.getVolumeCapabilitiesCount(); i++) {
        Capabilities.validate(req.getVolumeCapabilities(i), "volume_capabilities[" + i + "]");
      }
      if (req.hasAccessibleTopology() && !req.getAccessibleTopology().getSegmentsMap().isEmpty()
          && !config.nodeId().equals(req.getAccessibleTopology().getSegmentsMap().get(HostpathConfig.TOPOLOGY_KEY))) {
        return GetCapacityResponse.newBuilder().setAvailableCapacity(0).build();
      }
      long free = store.freeBytes(config.capacityBytes());
      return GetCapacityResponse.newBuilder().setAvailableCapacity(free)
          .setMaximumVolumeSize(Int64Value.of(free)).setMinimumVolumeSize(Int64Value.of(1)).build();
    });
  }

  @Override
  public Future<ControllerGetCapabilitiesResponse> controllerGetCapabilities(ControllerGetCapabilitiesRequest req) {
    List<ControllerServiceCapability.RPC.Type> types = new ArrayList<>(List.of(
        ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
        ControllerServiceCapability.RPC.Type.LIST_VOLUMES,
        ControllerServiceCapability.RPC.Type.GET_CAPACITY,
        ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT,
        ControllerServiceCapability.RPC.Type.LIST_SNAPSHOTS,
        ControllerServiceCapability.RPC.Type.CLONE_VOLUME,
        ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
        ControllerServiceCapability.RPC.Type.LIST_VOLUMES_PUBLISHED_NODES,
        ControllerServiceCapability.RPC.Type.VOLUME_CONDITION,
        ControllerServiceCapability.RPC.Type.GET_VOLUME,
        ControllerServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER));
    if (config.attachRequired()) {
      types.add(ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME);
      types.add(ControllerServiceCapability.RPC.Type.PUBLISH_READONLY);
    }
    ControllerGetCapabilitiesResponse.Builder b = ControllerGetCapabilitiesResponse.newBuilder();
    types.forEach(t -> b.addCapabilities(ControllerServiceCapability.newBuilder()
        .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t))));
    return Future.succeededFuture(b.build());
  }

  @Override
  public Future<ControllerExpandVolumeResponse> controllerExpandVolume(ControllerExpandVolumeRequest req) {
    return rpc.run("ControllerExpandVolume", req, () -> {
      String id = req.getVolumeId();
      CsiErrors.require(!id.isEmpty(), "volume_id is required");
      CsiErrors.require(req.hasCapacityRange(), "capacity_range is required");
      existing(id);
      return store.exclusive(List.of(id), () -> store.serialized(() -> {
        HostpathVolume v = existing(id);
        long required = req.getCapacityRange().getRequiredBytes();
        long limit = req.getCapacityRange().getLimitBytes();
        CsiErrors.require(required >= 0 && limit >= 0, "capacity_range values must not be negative");
        if (limit > 0 && required > limit) {
          throw CsiErrors.invalid("capacity_range.required_bytes exceeds limit_bytes");
        }
        if (limit > 0 && v.capacityBytes() > limit) {
          throw CsiErrors.outOfRange("volume " + id + " already has " + v.capacityBytes()
              + " bytes, more than limit_bytes " + limit + "; volumes cannot shrink");
        }
        if (required > v.capacityBytes()) {
          long growth = required - v.capacityBytes();
          long free = store.freeBytes(config.capacityBytes());
          if (growth > free) {
            throw CsiErrors.outOfRange("growing volume " + id + " by " + growth + " bytes exceeds the "
                + free + " bytes left of the driver's --capacity");
          }
          try {
            storage.grow(v, required);
          } catch (IOException e) {
            throw CsiErrors.internal("cannot grow volume " + id + ": " + e.getMessage());
          }
          v = v.withCapacity(required);
          store.put(v);
          LOG.info("expanded volume {} to {} bytes", id, required);
        }
        return ControllerExpandVolumeResponse.newBuilder().setCapacityBytes(v.capacityBytes())
            .setNodeExpansionRequired(v.usesImage()).build();
      }));
    });
  }

  @Override
  public Future<ControllerModifyVolumeResponse> controllerModifyVolume(ControllerModifyVolumeRequest req) {
    return Future.failedFuture(CsiErrors.unimplemented("ControllerModifyVolume is not supported by this driver"));
  }

  // ------------------------------------------------------------------ snapshots

  @Override
  public Future<CreateSnapshotResponse> createSnapshot(CreateSnapshotRequest req) {
    return rpc.run("CreateSnapshot", req, () -> {
      CsiErrors.require(!req.getName().isEmpty(), "name is required");
      String problem = Names.nameProblem(req.getName());
      CsiErrors.require(problem == null, "name " + problem);
      String vid = req.getSourceVolumeId();
      CsiErrors.require(!vid.isEmpty(), "source_volume_id is required");
      return store.serialized(() -> {
        var existing = store.snapshotByName(req.getName());
        if (existing.isPresent()) {
          if (!existing.get().sourceVolumeId().equals(vid)) {
            throw CsiErrors.alreadyExists("snapshot name '" + req.getName() + "' is taken by snapshot "
                + existing.get().id() + " of volume " + existing.get().sourceVolumeId());
          }
          return CreateSnapshotResponse.newBuilder().setSnapshot(toCsi(existing.get())).build();
        }
        HostpathVolume v = existing(vid);
        long free = store.freeBytes(config.capacityBytes());
        if (v.capacityBytes() > free) {
          throw CsiErrors.exhausted("snapshot of volume " + vid + " needs " + v.capacityBytes()
              + " bytes but only " + free + " remain of the driver's --capacity");
        }
        HostpathSnapshot s = new HostpathSnapshot(UUID.randomUUID().toString(), req.getName(), vid, v.kind(),
            v.block(), v.capacityBytes(), System.currentTimeMillis());
        try {
          storage.takeSnapshot(v, s);
          store.add(s);
        } catch (RuntimeException e) {
          try {
            storage.delete(s);
          } catch (IOException cleanup) {
            LOG.warn("could not remove the partial file {} of snapshot {} after its creation failed: {}",
                storage.snapshotFile(s), s.id(), cleanup.getMessage());
          }
          throw CsiErrors.creationFailed("snapshot " + req.getName() + " of volume " + vid, e);
        }
        LOG.info("created snapshot {} (name {}) of volume {}", s.id(), s.name(), vid);
        return CreateSnapshotResponse.newBuilder().setSnapshot(toCsi(s)).build();
      });
    });
  }

  @Override
  public Future<DeleteSnapshotResponse> deleteSnapshot(DeleteSnapshotRequest req) {
    return rpc.run("DeleteSnapshot", req, () -> {
      String id = req.getSnapshotId();
      CsiErrors.require(!id.isEmpty(), "snapshot_id is required");
      if (!Names.isValidId(id)) {
        return DeleteSnapshotResponse.getDefaultInstance();
      }
      return store.exclusive(List.of("snapshot:" + id), () -> {
        var s = store.snapshot(id);
        if (s.isPresent()) {
          try {
            storage.delete(s.get());
          } catch (IOException e) {
            throw CsiErrors.internal("cannot delete snapshot " + id + ": " + e.getMessage());
          }
          store.removeSnapshot(id);
          LOG.info("deleted snapshot {}", id);
        }
        return DeleteSnapshotResponse.getDefaultInstance();
      });
    });
  }

  @Override
  public Future<ListSnapshotsResponse> listSnapshots(ListSnapshotsRequest req) {
    return rpc.run("ListSnapshots", req, () -> {
      List<HostpathSnapshot> all = store.snapshots().stream()
          .filter(s -> req.getSnapshotId().isEmpty() || s.id().equals(req.getSnapshotId()))
          .filter(s -> req.getSourceVolumeId().isEmpty() || s.sourceVolumeId().equals(req.getSourceVolumeId()))
          .toList();
      Page page = Page.of(req.getMaxEntries(), req.getStartingToken(), all.size());
      ListSnapshotsResponse.Builder b = ListSnapshotsResponse.newBuilder().setNextToken(page.nextToken());
      all.subList(page.from(), page.to()).forEach(s ->
          b.addEntries(ListSnapshotsResponse.Entry.newBuilder().setSnapshot(toCsi(s))));
      return b.build();
    });
  }

  @Override
  public Future<GetSnapshotResponse> getSnapshot(GetSnapshotRequest req) {
    return Future.failedFuture(CsiErrors.unimplemented("GetSnapshot is not supported by this driver"));
  }

  // ------------------------------------------------------------------ helpers

  private HostpathVolume existing(String id) {
    if (!Names.isValidId(id)) {
      throw CsiErrors.notFound("volume '" + id + "' does not exist (not a volume id of this driver)");
    }
    return store.volume(id).orElseThrow(() -> CsiErrors.notFound("volume '" + id + "' does not exist"));
  }

  Volume toCsi(HostpathVolume v) {
    Volume.Builder b = Volume.newBuilder().setVolumeId(v.id()).setCapacityBytes(v.capacityBytes())
        .putVolumeContext("kind", v.kind().parameter())
        .addAccessibleTopology(Topology.newBuilder().putSegments(HostpathConfig.TOPOLOGY_KEY, config.nodeId()));
    if (v.sourceSnapshotId() != null) {
      b.setContentSource(VolumeContentSource.newBuilder().setSnapshot(
          VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(v.sourceSnapshotId())));
    } else if (v.sourceVolumeId() != null) {
      b.setContentSource(VolumeContentSource.newBuilder().setVolume(
          VolumeContentSource.VolumeSource.newBuilder().setVolumeId(v.sourceVolumeId())));
    }
    return b.build();
  }

  static Snapshot toCsi(HostpathSnapshot s) {
    return Snapshot.newBuilder().setSnapshotId(s.id()).setSourceVolumeId(s.sourceVolumeId())
        .setSizeBytes(s.sizeBytes()).setReadyToUse(true)
        .setCreationTime(Timestamp.newBuilder().setSeconds(s.createdAtMillis() / 1000)
            .setNanos((int) (s.createdAtMillis() % 1000) * 1_000_000)).build();
  }

  /** Paging over a sorted list: the token is the index of the next entry. */
  record Page(int from, int to, String nextToken) {
    static Page of(int maxEntries, String token, int size) {
      CsiErrors.require(maxEntries >= 0, "max_entries must not be negative");
      int from = 0;
      if (!token.isEmpty()) {
        try {
          from = Integer.parseInt(token);
        } catch (NumberFormatException e) {
          throw CsiErrors.aborted("starting_token '" + token + "' is not a token this driver issued");
        }
        if (from < 0 || from > size) {
          throw CsiErrors.aborted("starting_token '" + token + "' is out of range; list again from the start");
        }
      }
      int to = maxEntries == 0 ? size : (int) Math.min((long) from + maxEntries, size);
      return new Page(from, to, to < size ? Integer.toString(to) : "");
    }
  }
}
