package dev.csinode.simulator.driver.memory;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.mount.MountInfo;
import dev.csinode.simulator.driver.SimulatedMounts;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class SimulatedMountsTest {
  final SimulatedMounts mounts = new SimulatedMounts();
  final Path root = Path.of("/var/lib/kubelet");

  @Test
  void mountsStackAndUnmountUncovers() {
    Path t = root.resolve("pods/a/volumes/kubernetes.io~csi/pv/mount");
    mounts.mount(t, "memory:v1");
    mounts.mount(t, "memory:v2");
    assertEquals("memory:v2", mounts.sourceAt(t));
    assertEquals("memory:v2", mounts.table().at(t).map(MountInfo::source).orElseThrow());
    assertEquals(2, mounts.table().all().size());
    assertTrue(mounts.unmount(t));
    assertEquals("memory:v1", mounts.table().at(t).map(MountInfo::source).orElseThrow());
    assertTrue(mounts.unmount(t));
    assertFalse(mounts.isMountPoint(t));
    assertFalse(mounts.unmount(t));
    assertEquals(List.of(), mounts.table().all());
  }

  @Test
  void pathsAreComparedNormalized() {
    mounts.mount(Path.of("/var/lib/kubelet/pods/./a/mount/"), "x");
    assertTrue(mounts.isMountPoint(Path.of("/var/lib/kubelet/pods/a/mount")));
    assertTrue(mounts.table().isMountPoint(Path.of("/var/lib/kubelet/pods/b/../a/mount")));
  }

  @Test
  void theTableReadsAsTheKernelsWithEscapes() {
    Path odd = root.resolve("pods/a b/volumes/kubernetes.io~csi/p\tv/mount");
    mounts.mount(odd, "source with space");
    MountInfo m = mounts.table().at(odd).orElseThrow();
    assertEquals(odd.toString(), m.mountPoint());
    assertEquals("source with space", m.source());
    assertEquals("simulated", m.fsType());
  }

  @Test
  void beneathListsOnlyBelowTheRootAndClearIsAReboot() {
    mounts.mount(root.resolve("pods/a/mount"), "x");
    mounts.mount(root.resolve("plugins/kubernetes.io/csi/d/h/globalmount"), "y");
    mounts.mount(Path.of("/var/lib/kubelet-other/pods/a/mount"), "z");
    assertEquals(List.of(root.resolve("pods/a/mount"), root.resolve("plugins/kubernetes.io/csi/d/h/globalmount")), mounts.beneath(root));
    assertEquals(2, mounts.table().under(root).size());
    mounts.clear();
    assertEquals(List.of(), mounts.beneath(Path.of("/")));
    assertFalse(mounts.table().isMountPoint(root.resolve("pods/a/mount")));
  }
}
