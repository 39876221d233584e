package dev.csinode.simulator.driver.memory;

import com.google.protobuf.BoolValue;
import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginCapabilitiesResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityService;
import dev.csinode.csi.v1.PluginCapability;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import io.vertx.core.Future;

/** CSI Identity of the in-memory driver: its name, a controller service, always ready. */
public class MemoryIdentity extends IdentityService {
  public static final String VENDOR_VERSION = "0.1.0";
  private final String name;
  private final MemoryRpc rpc;

  public MemoryIdentity(String name, MemoryRpc rpc) {
    this.name = name;
    this.rpc = rpc;
  }

  @Override
  public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
    return rpc.run("GetPluginInfo", () -> GetPluginInfoResponse.newBuilder().setName(name).setVendorVersion(VENDOR_VERSION)
        .putManifest("simulated", "true").build());
  }

  @Override
  public Future<GetPluginCapabilitiesResponse> getPluginCapabilities(GetPluginCapabilitiesRequest request) {
    return rpc.run("GetPluginCapabilities", () -> GetPluginCapabilitiesResponse.newBuilder()
        .addCapabilities(PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder()
            .setType(PluginCapability.Service.Type.CONTROLLER_SERVICE)))
        .build());
  }

  @Override
  public Future<ProbeResponse> probe(ProbeRequest request) {
    return rpc.run("Probe", () -> ProbeResponse.newBuilder().setReady(BoolValue.of(true)).build());
  }
}
