package dev.csinode.hostpath;

import com.google.protobuf.BoolValue;
import dev.csinode.csi.v1.GetPluginCapabilitiesRequest;
import dev.csinode.csi.v1.GetPluginCapabilitiesResponse;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityService;
import dev.csinode.csi.v1.PluginCapability;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.csi.v1.ProbeResponse;
import dev.csinode.mount.Filesystems;
import io.vertx.core.Future;

/** CSI Identity service. */
final class IdentityServer extends IdentityService {
  private final HostpathConfig config;

  IdentityServer(HostpathConfig config) {
    this.config = config;
  }

  @Override
  public Future<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest request) {
    return Future.succeededFuture(GetPluginInfoResponse.newBuilder()
        .setName(config.driverName())
        .setVendorVersion(HostpathConfig.VENDOR_VERSION)
        .putManifest("kinds", "directory,filesystem")
        .build());
  }

  @Override
  public Future<GetPluginCapabilitiesResponse> getPluginCapabilities(GetPluginCapabilitiesRequest request) {
    return Future.succeededFuture(GetPluginCapabilitiesResponse.newBuilder()
        .addCapabilities(service(PluginCapability.Service.Type.CONTROLLER_SERVICE))
        .addCapabilities(service(PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS))
        .addCapabilities(PluginCapability.newBuilder().setVolumeExpansion(PluginCapability.VolumeExpansion.newBuilder()
            .setType(Filesystems.canResizeOnline()
                ? PluginCapability.VolumeExpansion.Type.ONLINE : PluginCapability.VolumeExpansion.Type.OFFLINE)))
        .build());
  }

  @Override
  public Future<ProbeResponse> probe(ProbeRequest request) {
    return Future.succeededFuture(ProbeResponse.newBuilder().setReady(BoolValue.of(true)).build());
  }

  private static PluginCapability service(PluginCapability.Service.Type type) {
    return PluginCapability.newBuilder().setService(PluginCapability.Service.newBuilder().setType(type)).build();
  }
}
