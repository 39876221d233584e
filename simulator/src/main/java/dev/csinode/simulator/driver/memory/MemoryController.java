package dev.csinode.simulator.driver.memory;

import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGetCapabilitiesRequest;
import dev.csinode.csi.v1.ControllerGetCapabilitiesResponse;
import dev.csinode.csi.v1.ControllerService;
import dev.csinode.csi.v1.ControllerServiceCapability;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.CreateVolumeResponse;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeResponse;
import dev.csinode.csi.v1.GetCapacityRequest;
import dev.csinode.csi.v1.GetCapacityResponse;
import dev.csinode.csi.v1.ValidateVolumeCapabilitiesRequest;
import dev.csinode.csi.v1.ValidateVolumeCapabilitiesResponse;
import dev.csinode.csi.v1.Volume;
import dev.csinode.csi.v1.VolumeCapability;
import io.vertx.core.Future;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * CSI Controller of the in-memory driver: CreateVolume and DeleteVolume against a total capacity, GetCapacity.
 * Volume ids follow from names, so a scenario's ids are the same in every run.
 */
public class MemoryController extends ControllerService {
  private static final Logger LOG = LoggerFactory.getLogger(MemoryController.class);
  static final long GIB = 1L << 30;
  private final MemoryState state;
  private final long capacityBytes;
  private final MemoryRpc rpc;
  private final MemoryNode node;

  /** @param node the node service, whose volume files a DeleteVolume removes */
  public MemoryController(MemoryState state, long capacityBytes, MemoryRpc rpc, MemoryNode node) {
    this.state = state;
    this.capacityBytes = capacityBytes;
    this.rpc = rpc;
    this.node = node;
  }

  /** The id of the volume CreateVolume makes for a name. */
  public static String volumeId(String name) {
    return "mem-" + MemoryNode.sha256(name).substring(0, 24);
  }

  @Override
  public Future<CreateVolumeResponse> createVolume(CreateVolumeRequest req) {
    return rpc.run("CreateVolume", () -> {
      String name = req.getName();
      CsiStatus.require(!name.isEmpty(), "name is required");
      List<VolumeCapability> caps = req.getVolumeCapabilitiesList();
      CsiStatus.require(!caps.isEmpty(), "volume_capabilities is required: give at least one volume capability");
      for (int i = 0; i < caps.size(); i++) {
        MemoryNode.validate(caps.get(i), "volume_capabilities[" + i + "]");
      }
      boolean block = caps.stream().anyMatch(VolumeCapability::hasBlock);
      CsiStatus.require(!(block && caps.stream().anyMatch(VolumeCapability::hasMount)),
          "volume_capabilities mix block and mount access; a volume is one or the other");
      CapacityRange range = req.getCapacityRange();
      long required = range.getRequiredBytes();
      long limit = range.getLimitBytes();
      CsiStatus.require(required >= 0 && limit >= 0, "capacity_range must not be negative");
      CsiStatus.require(limit == 0 || required <= limit, "capacity_range.required_bytes (" + required
          + ") exceeds limit_bytes (" + limit + ")");
      long size = required > 0 ? required : limit > 0 ? Math.min(limit, GIB) : GIB;
      synchronized (state) {
        MemoryVolume existing = state.byName.get(name);
        if (existing != null) {
          if (existing.capacityBytes() < required || (limit > 0 && existing.capacityBytes() > limit) || existing.block() != block) {
            throw CsiStatus.alreadyExists("volume name '" + name + "' is taken by volume " + existing.id() + " of "
                + existing.capacityBytes() + " bytes" + (existing.block() ? " (block)" : "") + ", which does not fit this request");
          }
          return response(existing);
        }
        long free = capacityBytes - state.usedBytes;
        if (size > free) {
          throw CsiStatus.exhausted("volume " + name + " needs " + size + " bytes but only " + free + " of the in-memory "
              + "driver's capacity of " + capacityBytes + " bytes remain");
        }
        MemoryVolume v = new MemoryVolume(volumeId(name), name, size, block, false);
        state.add(v);
        LOG.debug("created volume {} (name {}, {} bytes)", v.id(), name, size);
        return response(v);
      }
    });
  }

  private static CreateVolumeResponse response(MemoryVolume v) {
    return CreateVolumeResponse.newBuilder().setVolume(Volume.newBuilder().setVolumeId(v.id()).setCapacityBytes(v.capacityBytes())).build();
  }

  @Override
  public Future<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest req) {
    return rpc.run("DeleteVolume", () -> {
      String id = req.getVolumeId();
      CsiStatus.require(!id.isEmpty(), "volume_id is required");
      synchronized (state) {
        MemoryVolume v = state.volumes.get(id);
        if (v == null) {
          return DeleteVolumeResponse.getDefaultInstance();
        }
        if (state.staged.containsKey(id) || state.isPublished(id)) {
          throw CsiStatus.failedPrecondition("volume " + id + " is still staged or published on the node; unpublish and unstage it first");
        }
        node.deleteData(id);
        state.remove(v);
        LOG.debug("deleted volume {}", id);
        return DeleteVolumeResponse.getDefaultInstance();
      }
    });
  }

  @Override
  public Future<ValidateVolumeCapabilitiesResponse> validateVolumeCapabilities(ValidateVolumeCapabilitiesRequest req) {
    return rpc.run("ValidateVolumeCapabilities", () -> {
      CsiStatus.require(!req.getVolumeId().isEmpty(), "volume_id is required");
      CsiStatus.require(req.getVolumeCapabilitiesCount() > 0, "volume_capabilities is required");
      MemoryVolume v;
      synchronized (state) {
        v = state.volumes.get(req.getVolumeId());
      }
      if (v == null) {
        throw CsiStatus.notFound("volume '" + req.getVolumeId() + "' does not exist");
      }
      boolean fits = req.getVolumeCapabilitiesList().stream().allMatch(c -> c.hasBlock() == v.block());
      ValidateVolumeCapabilitiesResponse.Builder b = ValidateVolumeCapabilitiesResponse.newBuilder();
      if (fits) {
        b.setConfirmed(ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder().addAllVolumeCapabilities(req.getVolumeCapabilitiesList()));
      } else {
        b.setMessage("volume " + v.id() + " is a " + (v.block() ? "block" : "mount") + " volume");
      }
      return b.build();
    });
  }

  @Override
  public Future<GetCapacityResponse> getCapacity(GetCapacityRequest req) {
    return rpc.run("GetCapacity", () -> {
      synchronized (state) {
        return GetCapacityResponse.newBuilder().setAvailableCapacity(capacityBytes - state.usedBytes).build();
      }
    });
  }

  @Override
  public Future<ControllerGetCapabilitiesResponse> controllerGetCapabilities(ControllerGetCapabilitiesRequest req) {
    return rpc.run("ControllerGetCapabilities", () -> {
      ControllerGetCapabilitiesResponse.Builder b = ControllerGetCapabilitiesResponse.newBuilder();
      for (var t : List.of(ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME, ControllerServiceCapability.RPC.Type.GET_CAPACITY)) {
        b.addCapabilities(ControllerServiceCapability.newBuilder().setRpc(ControllerServiceCapability.RPC.newBuilder().setType(t)));
      }
      return b.build();
    });
  }
}
