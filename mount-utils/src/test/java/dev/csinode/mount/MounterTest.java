package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MounterTest {
  @TempDir Path dir;
  final Mounter mounter = new Mounter();

  @BeforeEach
  void privateNamespace() {
    PrivateMountNamespace.require();
  }

  @Test
  void bindMountIsSeenByStatxAndMountinfoAlikeAndUnmountIsIdempotent() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src dir"));
    Path dst = Files.createDirectories(dir.resolve("dst\tdir"));
    Files.writeString(src.resolve("f"), "x");
    assertFalse(mounter.isMountPoint(dst));
    mounter.bind(src, dst, false, List.of());
    try {
      assertTrue(mounter.isMountPoint(dst));
      assertTrue(MountTable.read().isMountPoint(dst), "mountinfo with escaped names agrees");
      assertFalse(mounter.isMountPoint(dir), "the parent is not a mount point");
      assertFalse(mounter.isMountPoint(dst.resolve("f")));
      assertEquals("x", Files.readString(dst.resolve("f")));
    } finally {
      assertTrue(mounter.unmount(dst));
    }
    assertFalse(mounter.unmount(dst), "nothing left to unmount");
    assertFalse(mounter.isMountPoint(dst));
    assertFalse(mounter.isMountPoint(dir.resolve("does-not-exist")));
  }

  @Test
  void readOnlyAndFlagsAreAppliedToBindMounts() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src"));
    Path dst = Files.createDirectories(dir.resolve("dst"));
    mounter.bind(src, dst, true, List.of("nodev,noexec"));
    try {
      MountInfo m = MountTable.read().at(dst).orElseThrow();
      assertTrue(m.readOnly());
      assertTrue(m.mountOptions().containsAll(List.of("nodev", "noexec")), m.mountOptions().toString());
    } finally {
      mounter.unmountAll(dst);
    }
  }

  @Test
  void failuresNameThePathAndTheCause() {
    MountException e = assertThrows(MountException.class,
        () -> mounter.bind(dir.resolve("missing"), Files.createDirectories(dir.resolve("t")), false, List.of()));
    assertTrue(e.getMessage().contains(dir.resolve("missing").toString()), e.getMessage());
    assertTrue(e.getMessage().contains("No such file"), e.getMessage());
  }
}
