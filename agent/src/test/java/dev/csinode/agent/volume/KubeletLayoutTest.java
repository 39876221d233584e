package dev.csinode.agent.volume;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Names the layout makes from two parts never make two volumes one; the kubelet's own names where they are safe. */
@Tag("unit")
class KubeletLayoutTest {
  static final String UUID = "aaaaaaaa-0000-4000-8000-000000000001";

  @Test
  void inlineVolumesOfDifferentPodsNeverShareAUniqueNameOrAHandle() {
    // uid "a-b" + volume "c" and uid "a" + volume "b-c" joined with '-' were one volume.
    assertNotEquals(KubeletLayout.uniqueInlineVolumeName("a-b", "c"), KubeletLayout.uniqueInlineVolumeName("a", "b-c"));
    // uid "ab" + volume "c" and uid "a" + volume "bc" hashed together were one handle.
    assertNotEquals(KubeletLayout.inlineVolumeHandle("ab", "c"), KubeletLayout.inlineVolumeHandle("a", "bc"));
    // A UUID uid against another uid whose join happens to read the same.
    assertNotEquals(KubeletLayout.uniqueInlineVolumeName(UUID, "x"), KubeletLayout.uniqueInlineVolumeName(UUID.substring(0, 35), "1-x"));
    assertNotEquals(KubeletLayout.inlineVolumeHandle(UUID, "x"), KubeletLayout.inlineVolumeHandle(UUID.substring(0, 35), "1x"));
  }

  @Test
  void aUuidUidGetsTheKubeletsNameAndHandle() {
    assertEquals("kubernetes.io/csi/" + UUID + "-data", KubeletLayout.uniqueInlineVolumeName(UUID, "data"));
    assertEquals("csi-" + KubeletLayout.sha256(UUID + "data"), KubeletLayout.inlineVolumeHandle(UUID, "data"));
    assertEquals(KubeletLayout.legacyUniqueInlineVolumeName(UUID, "data"), KubeletLayout.uniqueInlineVolumeName(UUID, "data"));
  }

  @Test
  void aUidThatIsNotAPathComponentIsRefused() {
    KubeletLayout layout = new KubeletLayout(Path.of("/var/lib/kubelet"));
    for (String bad : new String[] {"..", ".", "a/b", "../x", "", "-a", "a b", "a\nb", "x".repeat(129)}) {
      assertFalse(KubeletLayout.isValidUid(bad), bad);
      assertThrows(IllegalArgumentException.class, () -> layout.podDir(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> layout.podDir(null));
    assertEquals(Path.of("/var/lib/kubelet/pods/" + UUID), layout.podDir(UUID));
  }
}
