package dev.csinode.agent.volume;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.csinode.plugins.csi.RegisteredDriver;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The kubelet's access-mode mapping (csi_client.go), both of its tables, and the checks of a list of modes. */
@Tag("unit")
class AccessModesTest {
  static RegisteredDriver driver(String... nodeCapabilities) {
    return new RegisteredDriver("d.example.com", "/plugins/d/csi.sock", Path.of("/plugins_registry/d.sock"), "node-1", Map.of(), 0,
        List.of(nodeCapabilities), "1.0.0", 0, true);
  }

  @Test
  void aDriverWithoutSingleNodeMultiWriterGetsSingleNodeWriterForBothSingleNodeModes() {
    assertEquals(Mode.SINGLE_NODE_WRITER, AccessModes.toCsi("ReadWriteOnce", false));
    assertEquals(Mode.SINGLE_NODE_WRITER, AccessModes.toCsi("ReadWriteOncePod", false));
    assertEquals(Mode.MULTI_NODE_READER_ONLY, AccessModes.toCsi("ReadOnlyMany", false));
    assertEquals(Mode.MULTI_NODE_MULTI_WRITER, AccessModes.toCsi("ReadWriteMany", false));
  }

  @Test
  void aDriverWithSingleNodeMultiWriterGetsTheModesThatSayWhatAPodMayShare() {
    assertEquals(Mode.SINGLE_NODE_MULTI_WRITER, AccessModes.toCsi("ReadWriteOnce", true));
    assertEquals(Mode.SINGLE_NODE_SINGLE_WRITER, AccessModes.toCsi("ReadWriteOncePod", true));
    assertEquals(Mode.MULTI_NODE_READER_ONLY, AccessModes.toCsi("ReadOnlyMany", true));
    assertEquals(Mode.MULTI_NODE_MULTI_WRITER, AccessModes.toCsi("ReadWriteMany", true));
  }

  @Test
  void theTableIsChosenByTheDriversNodeCapability() {
    RegisteredDriver plain = driver("STAGE_UNSTAGE_VOLUME", "VOLUME_MOUNT_GROUP");
    RegisteredDriver aware = driver("STAGE_UNSTAGE_VOLUME", "SINGLE_NODE_MULTI_WRITER");
    assertEquals(Mode.SINGLE_NODE_WRITER, AccessModes.toCsi("ReadWriteOncePod", plain));
    assertEquals(Mode.SINGLE_NODE_SINGLE_WRITER, AccessModes.toCsi("ReadWriteOncePod", aware));
    assertEquals(Mode.SINGLE_NODE_WRITER, AccessModes.toCsi("ReadWriteOnce", plain));
    assertEquals(Mode.SINGLE_NODE_MULTI_WRITER, AccessModes.toCsi("ReadWriteOnce", aware));
  }

  @Test
  void aModeKubernetesDoesNotHaveIsUnknown() {
    for (boolean aware : new boolean[] {false, true}) {
      assertEquals(Mode.UNKNOWN, AccessModes.toCsi("ReadWriteSometimes", aware));
      assertEquals(Mode.UNKNOWN, AccessModes.toCsi("", aware));
      assertEquals(Mode.UNKNOWN, AccessModes.toCsi(null, aware));
      assertEquals(Mode.UNKNOWN, AccessModes.toCsi("readwriteonce", aware), "modes are case-sensitive");
    }
  }

  @Test
  void theVolumesModeIsTheFirstOrReadWriteOnceForNone() {
    assertEquals("ReadOnlyMany", AccessModes.ofVolume(List.of("ReadOnlyMany", "ReadWriteOnce")));
    assertEquals("ReadWriteOncePod", AccessModes.ofVolume(List.of("ReadWriteOncePod")));
    assertEquals("ReadWriteOnce", AccessModes.ofVolume(List.of()));
    assertEquals("ReadWriteOnce", AccessModes.ofVolume(null));
  }

  @Test
  void aListOfModesIsCheckedAsTheApiServerChecksIt() {
    String field = "PersistentVolume pv-1 spec.accessModes";
    for (List<String> fine : List.of(List.<String>of(), List.of("ReadWriteOnce"), List.of("ReadWriteOncePod"),
        List.of("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"))) {
      assertEquals(Optional.empty(), AccessModes.problem(fine, field), "" + fine);
    }
    assertEquals(Optional.empty(), AccessModes.problem(null, field));
    assertEquals(Optional.of("PersistentVolume pv-1 spec.accessModes[1] is null; expected one of ReadWriteOnce, ReadOnlyMany, "
        + "ReadWriteMany, ReadWriteOncePod"), AccessModes.problem(Arrays.asList("ReadWriteOnce", null), field));
    assertEquals(Optional.of("PersistentVolume pv-1 spec.accessModes[0] is 'RWO'; expected one of ReadWriteOnce, ReadOnlyMany, "
        + "ReadWriteMany, ReadWriteOncePod"), AccessModes.problem(List.of("RWO"), field));
    assertEquals(Optional.of("PersistentVolume pv-1 spec.accessModes has ReadWriteOncePod with other modes [ReadWriteOnce, "
        + "ReadWriteOncePod]; ReadWriteOncePod must be the only access mode"),
        AccessModes.problem(List.of("ReadWriteOnce", "ReadWriteOncePod"), field));
  }
}
