package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountTableTest {
  static final String SAMPLE = String.join("\n",
      "22 1 253:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro",
      "35 22 253:1 /srv/data\\040dir /var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/my\\040vol/mount ro,nosuid master:1 - ext4 /dev/vda1 rw",
      "36 22 7:0 / /mnt/tab\\011and\\134back rw - ext4 /dev/loop0 rw",
      "37 22 0:5 / /mnt/nofields rw - tmpfs tmpfs rw,size=10k",
      "");

  @Test
  void decodesOctalEscapesInPathsAndKeepsOptionalFieldsOut() {
    MountTable t = MountTable.parse(SAMPLE);
    assertEquals(4, t.all().size());
    MountInfo m = t.all().get(1);
    assertEquals("/srv/data dir", m.root());
    assertEquals("/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/my vol/mount", m.mountPoint());
    assertEquals("ext4", m.fsType());
    assertEquals("/dev/vda1", m.source());
    assertTrue(m.readOnly());
    assertEquals(List.of("ro", "nosuid"), m.mountOptions());
    assertEquals("/mnt/tab\tand\\back", t.all().get(2).mountPoint());
    assertEquals("tmpfs", t.all().get(3).fsType());
  }

  @Test
  void findsMountPointsAtAndUnderAPath() {
    MountTable t = MountTable.parse(SAMPLE);
    assertTrue(t.isMountPoint(Path.of("/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/my vol/mount")));
    assertFalse(t.isMountPoint(Path.of("/var/lib/kubelet/pods/u1")));
    assertEquals(1, t.under(Path.of("/var/lib/kubelet/pods/u1")).size());
    assertEquals(0, t.under(Path.of("/var/lib/kubelet/pods/u10")).size(), "a sibling with a common prefix is not under");
  }

  @Test
  void rejectsMalformedLines() {
    assertThrows(IllegalArgumentException.class, () -> MountTable.parse("1 2 3\n"));
  }

  @Test
  void readsTheLiveTable() {
    assertTrue(MountTable.read().isMountPoint(Path.of("/")));
  }
}
