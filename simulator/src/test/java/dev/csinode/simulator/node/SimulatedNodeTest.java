package dev.csinode.simulator.node;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.csinode.mount.MountTable;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class SimulatedNodeTest {

  @Test
  void aRebootUnmountsDeepestFirstEachMountPointOnceAndNothingOutsideTheNode() {
    MountTable table = MountTable.parse("""
        1 0 8:1 / / rw - ext4 /dev/sda1 rw
        20 1 8:1 /sim/state/v1 /sim/root/plugins/kubernetes.io/csi/d/abc/globalmount rw - ext4 /dev/sda1 rw
        21 20 8:1 /sim/state/v1 /sim/root/pods/u1/volumes/kubernetes.io~csi/data/mount rw - ext4 /dev/sda1 rw
        22 1 7:0 / /sim/work/driver/state/mnt rw - ext4 /dev/loop0 rw
        23 21 8:1 /x /sim/root/pods/u1/volumes/kubernetes.io~csi/data/mount rw - ext4 /dev/sda1 rw
        24 1 8:1 /x /sim/rootless rw - ext4 /dev/sda1 rw
        25 1 8:1 /x /elsewhere rw - ext4 /dev/sda1 rw
        26 23 8:1 /y /sim/root/pods/u1/volumes/kubernetes.io~csi/data/mount/sub rw - ext4 /dev/sda1 rw
        """);
    assertEquals(List.of(Path.of("/sim/root/pods/u1/volumes/kubernetes.io~csi/data/mount/sub"),
            Path.of("/sim/root/plugins/kubernetes.io/csi/d/abc/globalmount"),
            Path.of("/sim/root/pods/u1/volumes/kubernetes.io~csi/data/mount"), Path.of("/sim/work/driver/state/mnt")),
        SimulatedNode.mountsBeneath(table, List.of(Path.of("/sim/root"), Path.of("/sim/work"))));
  }

  @Test
  void loopDevicesBackedBeneathTheWorkDirOnlyEvenWhenTheirFileIsDeleted() {
    assertEquals(List.of("/dev/loop1", "/dev/loop3"), SimulatedNode.loopsBackedBeneath(List.of(
        "/dev/loop0 /var/lib/other/img",
        "/dev/loop1 /sim/work/driver/state/v1.img",
        "/dev/loop2 /sim/workother/v.img",
        "/dev/loop3 /sim/work/driver/state/v2.img (deleted)",
        "/dev/loop4"), Path.of("/sim/work"), Set.of()));
  }

  @Test
  void loopDevicesAttachedBeforeTheNodeStartedStay() {
    assertEquals(List.of("/dev/loop1"), SimulatedNode.loopsBackedBeneath(List.of(
        "/dev/loop0 /sim/work/mine.img",
        "/dev/loop1 /sim/work/driver/state/v1.img"), Path.of("/sim/work"), Set.of("/dev/loop0 /sim/work/mine.img")));
  }

  @Test
  void optionsWithoutAWorkDirUseTheRoot() {
    var o = new SimulatedNode.Options(Path.of("/sim/root/"), "n", null, null);
    assertEquals(Path.of("/sim/root"), o.workDir());
    assertEquals(dev.csinode.agent.VolumeManager.Options.defaults(), o.volumeOptions());
  }
}
