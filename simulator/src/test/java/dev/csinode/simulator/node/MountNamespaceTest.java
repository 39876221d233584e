package dev.csinode.simulator.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class MountNamespaceTest {
  @TempDir
  Path dir;

  @Test
  void theSameNamespaceAsPidOneIsRefusedWithHowToRunIt() throws Exception {
    Path self = Files.createSymbolicLink(dir.resolve("self"), Path.of("mnt:[4026531841]"));
    Path init = Files.createSymbolicLink(dir.resolve("init"), Path.of("mnt:[4026531841]"));
    var e = assertThrows(IllegalStateException.class, () -> MountNamespace.requirePrivate(self, init));
    assertEquals("simulate with real mounts must run in a private mount namespace: run it through scripts/csi-node-agent "
        + "(which uses unshare --mount --propagation private) (this process shares pid 1's mount namespace mnt:[4026531841])",
        e.getMessage());
  }

  @Test
  void anotherNamespaceIsAccepted() throws Exception {
    Path self = Files.createSymbolicLink(dir.resolve("self"), Path.of("mnt:[4026532999]"));
    Path init = Files.createSymbolicLink(dir.resolve("init"), Path.of("mnt:[4026531841]"));
    MountNamespace.requirePrivate(self, init);
  }

  @Test
  void whatCannotBeComparedIsRefused() throws Exception {
    Path self = Files.createSymbolicLink(dir.resolve("self"), Path.of("mnt:[4026532999]"));
    var e = assertThrows(IllegalStateException.class, () -> MountNamespace.requirePrivate(self, dir.resolve("missing")));
    assertTrue(e.getMessage().startsWith(MountNamespace.REFUSAL + " (cannot compare "), e.getMessage());
  }
}
