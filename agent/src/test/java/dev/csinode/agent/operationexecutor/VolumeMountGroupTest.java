package dev.csinode.agent.operationexecutor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.plugins.csi.RegisteredDriver;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Who gives a pod's fsGroup to its volume, by the kubelet's rules (csi_mounter/csi_attacher): a driver with
 * VOLUME_MOUNT_GROUP gets it as volume_mount_group in NodeStageVolume and NodePublishVolume whatever the CSIDriver's
 * fsGroupPolicy, and the node then changes nothing; for other drivers the policy decides whether the node does.
 */
@Tag("unit")
class VolumeMountGroupTest {
  private static final RegisteredDriver WITH_MOUNT_GROUP = driver(List.of("STAGE_UNSTAGE_VOLUME", "VOLUME_MOUNT_GROUP"));
  private static final RegisteredDriver WITHOUT = driver(List.of("STAGE_UNSTAGE_VOLUME"));

  private static RegisteredDriver driver(List<String> capabilities) {
    return new RegisteredDriver("d.example.com", "unix:///d.sock", Path.of("/reg/d.sock"), "node", Map.of(), 0, capabilities, "1.0.0",
        1, true);
  }

  private static VolumeSpec volume(String policy) {
    return new VolumeSpec("kubernetes.io/csi/d.example.com^h", "d.example.com", "h", "pv-1", false, false, "ext4", List.of(),
        "ReadWriteOnce", Map.of(), null, null, false, false, policy, "pv-1", "default/c");
  }

  private static PodToMount pod(Long fsGroup, boolean readOnly) {
    return new PodToMount("11111111-2222-4333-8444-555555555555", "default/a", "default", "a", "default", "data", readOnly, fsGroup, null);
  }

  @ParameterizedTest
  @ValueSource(strings = {"None", "File", "ReadWriteOnceWithFSType"})
  void aDriverWithVolumeMountGroupGetsThePodsFsGroupWhateverThePolicy(String policy) {
    assertEquals(2345L, VolumeOperations.mountGroup(volume(policy), pod(2345L, false), WITH_MOUNT_GROUP));
    assertEquals(2345L, VolumeOperations.mountGroup(volume(policy), pod(2345L, true), WITH_MOUNT_GROUP), "read-only too");
    assertFalse(VolumeOperations.agentAppliesFsGroup(volume(policy), pod(2345L, false), WITH_MOUNT_GROUP), "the node changes nothing");
    assertNull(VolumeOperations.mountGroup(volume(policy), pod(null, false), WITH_MOUNT_GROUP), "no fsGroup, none passed");
  }

  @ParameterizedTest
  @ValueSource(strings = {"None", "File", "ReadWriteOnceWithFSType"})
  void aDriverWithoutItGetsNoneAndThePolicyDecidesWhetherTheNodeSetsIt(String policy) {
    assertNull(VolumeOperations.mountGroup(volume(policy), pod(2345L, false), WITHOUT));
    assertEquals(!policy.equals("None"), VolumeOperations.agentAppliesFsGroup(volume(policy), pod(2345L, false), WITHOUT));
    assertFalse(VolumeOperations.agentAppliesFsGroup(volume(policy), pod(2345L, true), WITHOUT), "never on a read-only use");
    assertTrue(VolumeOperations.capability(volume(policy), WITH_MOUNT_GROUP, 2345L).getMount().getVolumeMountGroup().equals("2345"));
  }
}
