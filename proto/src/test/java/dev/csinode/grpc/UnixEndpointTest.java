package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class UnixEndpointTest {
  @Test
  void acceptsTheFormsCsiAndTheKubeletUse() {
    assertEquals(Path.of("/var/lib/kubelet/plugins/x/csi.sock"), UnixEndpoint.parse("unix:///var/lib/kubelet/plugins/x/csi.sock").path());
    assertEquals(Path.of("/run/csi.sock"), UnixEndpoint.parse("unix:/run/csi.sock").path());
    assertEquals(Path.of("/run/csi.sock"), UnixEndpoint.parse("/run/csi.sock").path());
    assertEquals("unix:///a/b.sock", UnixEndpoint.parse("/a/./c/../b.sock").url());
  }

  @Test
  void rejectsWhatIsNotAnAbsoluteUnixSocket() {
    for (String bad : new String[] {"", "  ", "tcp://127.0.0.1:10000", "relative/csi.sock", "unix://relative.sock"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> UnixEndpoint.parse(bad), bad);
      assertFalse(e.getMessage().isBlank());
    }
  }
}
