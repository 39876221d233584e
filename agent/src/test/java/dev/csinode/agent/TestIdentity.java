package dev.csinode.agent;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityService;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import io.vertx.core.Future;
import java.util.List;

/** What every test-double CSI driver answers the same way: its name, a healthy Probe, its node capabilities. */
final class TestIdentity {
  private TestIdentity() {}

  static IdentityService of(String name) {
    return new IdentityService() {
      @Override
      public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest r) {
        return Future.succeededFuture(GetPluginInfoResponse.newBuilder().setName(name).setVendorVersion("test").build());
      }

      @Override
      public Future<ProbeResponse> probe(ProbeRequest r) {
        return Future.succeededFuture(ProbeResponse.getDefaultInstance());
      }
    };
  }

  static NodeGetCapabilitiesResponse nodeCapabilities(List<NodeServiceCapability.RPC.Type> types) {
    NodeGetCapabilitiesResponse.Builder b = NodeGetCapabilitiesResponse.newBuilder();
    types.forEach(t -> b.addCapabilities(NodeServiceCapability.newBuilder().setRpc(NodeServiceCapability.RPC.newBuilder().setType(t))));
    return b.build();
  }
}
