package dev.csinode.hostpath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.mount.Mounter;
import dev.csinode.testing.PrivateMountNamespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StorageTest {
  @TempDir Path dir;
  final Mounter mounter = new Mounter();

  @BeforeEach
  void privateNamespace() {
    PrivateMountNamespace.require();
  }

  /** A volume tree with data at several depths. */
  private Path tree() throws IOException {
    Path root = Files.createDirectories(dir.resolve("volume/a/b"));
    Files.writeString(dir.resolve("volume/top.txt"), "top");
    Files.writeString(root.resolve("deep.txt"), "deep");
    return dir.resolve("volume");
  }

  @Test
  void aTreeWithADirectoryMountedDeepInsideIsNotTouchedAtAll() throws Exception {
    Path volume = tree();
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Files.writeString(elsewhere.resolve("precious.txt"), "keep");
    Path target = Files.createDirectories(volume.resolve("a/b/mnt"));
    mounter.bind(elsewhere, target, false, List.of());
    try {
      IOException e = assertThrows(IOException.class, () -> Storage.deleteTree(volume));
      assertTrue(e.getMessage().contains(target + " is still mounted"), e.getMessage());
      assertEquals("top", Files.readString(volume.resolve("top.txt")), "nothing deleted before the refusal");
      assertEquals("deep", Files.readString(volume.resolve("a/b/deep.txt")));
      assertEquals("keep", Files.readString(target.resolve("precious.txt")));
    } finally {
      mounter.unmount(target);
    }
    Storage.deleteTree(volume);
    assertFalse(Files.exists(volume));
    assertEquals("keep", Files.readString(elsewhere.resolve("precious.txt")));
  }

  @Test
  void aFileBindMountedInsideAndTheRootItselfCountToo() throws Exception {
    Path volume = tree();
    Path source = Files.writeString(dir.resolve("source.txt"), "keep");
    mounter.bind(source, volume.resolve("top.txt"), false, List.of());
    try {
      assertThrows(IOException.class, () -> Storage.deleteTree(volume));
      assertTrue(Files.exists(volume.resolve("a/b/deep.txt")));
    } finally {
      mounter.unmount(volume.resolve("top.txt"));
    }
    mounter.bind(Files.createDirectories(dir.resolve("other")), volume, false, List.of());
    try {
      assertThrows(IOException.class, () -> Storage.deleteTree(volume));
    } finally {
      mounter.unmount(volume);
    }
    Storage.deleteTree(volume);
    assertFalse(Files.exists(volume));
    assertEquals("keep", Files.readString(source));
  }
}
