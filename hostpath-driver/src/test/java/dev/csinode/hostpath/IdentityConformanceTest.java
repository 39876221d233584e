package dev.csinode.hostpath;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.*;
import dev.csinode.mount.Filesystems;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IdentityConformanceTest {
  static DriverFixture d;

  @BeforeAll
  static void start() throws Exception {
    d = new DriverFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    d.close();
  }

  @Test
  void pluginInfoNamesTheDriverAndItsVersion() {
    GetPluginInfoResponse r = d.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance());
    assertEquals("hostpath.csinode.dev", r.getName());
    assertFalse(r.getVendorVersion().isEmpty());
  }

  @Test
  void advertisesControllerServiceTopologyAndExpansionTheHostAllows() {
    var caps = d.call(IdentityGrpcClient.GetPluginCapabilities, GetPluginCapabilitiesRequest.getDefaultInstance()).getCapabilitiesList();
    assertTrue(caps.stream().anyMatch(c -> c.getService().getType() == PluginCapability.Service.Type.CONTROLLER_SERVICE));
    assertTrue(caps.stream().anyMatch(c -> c.getService().getType() == PluginCapability.Service.Type.VOLUME_ACCESSIBILITY_CONSTRAINTS));
    var expected = Filesystems.canResizeOnline()
        ? PluginCapability.VolumeExpansion.Type.ONLINE : PluginCapability.VolumeExpansion.Type.OFFLINE;
    assertTrue(caps.stream().anyMatch(c -> c.getVolumeExpansion().getType() == expected), caps.toString());
  }

  @Test
  void probeSaysReady() {
    ProbeResponse r = d.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance());
    assertTrue(r.getReady().getValue());
  }

  @Test
  void nodeInfoHasNodeIdLimitAndTopology() {
    NodeGetInfoResponse r = d.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance());
    assertEquals(DriverFixture.NODE, r.getNodeId());
    assertEquals(DriverFixture.NODE, r.getAccessibleTopology().getSegmentsMap().get("topology.hostpath.csinode.dev/node"));
  }

  @Test
  void nodeCapabilities() {
    var types = d.call(NodeGrpcClient.NodeGetCapabilities, NodeGetCapabilitiesRequest.getDefaultInstance())
        .getCapabilitiesList().stream().map(c -> c.getRpc().getType()).toList();
    assertTrue(types.containsAll(List.of(NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME,
        NodeServiceCapability.RPC.Type.GET_VOLUME_STATS, NodeServiceCapability.RPC.Type.EXPAND_VOLUME,
        NodeServiceCapability.RPC.Type.VOLUME_CONDITION, NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)), types.toString());
  }

  @Test
  void controllerCapabilitiesWithoutAttach() {
    var types = d.call(ControllerGrpcClient.ControllerGetCapabilities, ControllerGetCapabilitiesRequest.getDefaultInstance())
        .getCapabilitiesList().stream().map(c -> c.getRpc().getType()).toList();
    assertTrue(types.contains(ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME));
    assertTrue(types.contains(ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT));
    assertTrue(types.contains(ControllerServiceCapability.RPC.Type.EXPAND_VOLUME));
    assertTrue(types.contains(ControllerServiceCapability.RPC.Type.LIST_VOLUMES));
    assertFalse(types.contains(ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME));
  }
}
