package dev.csinode.simulator.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class MountNamespaceTest {
  private static final String HOST = "mnt:[4026531841]";
  private static final String OTHER = "mnt:[4026532999]";
  @TempDir
  Path dir;

  private Path link(String name, String target) throws Exception {
    return Files.createSymbolicLink(dir.resolve(name), Path.of(target));
  }

  @Test
  void theSameNamespaceAsPidOneIsRefusedWithHowToRunIt() throws Exception {
    var e = assertThrows(IllegalStateException.class,
        () -> MountNamespace.requirePrivate(link("self", HOST), link("init", HOST), Map.of(MountNamespace.LAUNCHER_UNSHARED, "1")));
    assertEquals("simulate with real mounts must run in a private mount namespace: run it through scripts/csi-node-agent "
        + "(which uses unshare --mount --propagation private) (this process shares pid 1's mount namespace mnt:[4026531841])",
        e.getMessage());
  }

  @Test
  void anotherNamespaceThanPidOnesIsAccepted() throws Exception {
    MountNamespace.requirePrivate(link("self", OTHER), link("init", HOST), Map.of());
  }

  @Test
  void withoutPidOnesTheRecordedHostNamespaceIsCompared() throws Exception {
    Path self = link("self", HOST);
    Path unreadable = dir.resolve("init");
    var e = assertThrows(IllegalStateException.class,
        () -> MountNamespace.requirePrivate(self, unreadable, Map.of(MountNamespace.RECORDED_HOST_NS, HOST)));
    assertTrue(e.getMessage().endsWith("(this process shares the host's (CSI_TEST_HOST_MNT_NS) mount namespace mnt:[4026531841])"),
        e.getMessage());
    MountNamespace.requirePrivate(self, unreadable, Map.of(MountNamespace.RECORDED_HOST_NS, OTHER));
  }

  @Test
  void withoutPidOnesTheLaunchersWordIsTakenAndWithoutThatItIsRefused() throws Exception {
    Path self = link("self", OTHER);
    Path unreadable = dir.resolve("init");
    MountNamespace.requirePrivate(self, unreadable, Map.of(MountNamespace.LAUNCHER_UNSHARED, "1"));
    var e = assertThrows(IllegalStateException.class, () -> MountNamespace.requirePrivate(self, unreadable, Map.of()));
    assertTrue(e.getMessage().startsWith(MountNamespace.REFUSAL + " (cannot compare " + self + " with " + unreadable + ": "),
        e.getMessage());
  }
}
