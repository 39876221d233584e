package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoriesTest {
  @TempDir Path dir;

  @Test
  void createsMissingParentsWithTheModeAndAcceptsWhatExists() throws Exception {
    Path deep = dir.resolve("pods/uid-1/volumes/kubernetes.io~csi/data");
    Directories.create(deep, 0750);
    for (Path p = deep; !p.equals(dir); p = p.getParent()) {
      assertTrue(Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS), p + " made");
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
      // 0750 less the umask: never more than asked for, and the owner's part as asked (umasks leave it alone).
      assertTrue(PosixFilePermissions.fromString("rwxr-x---").containsAll(perms), p + " " + perms);
      assertTrue(perms.containsAll(PosixFilePermissions.fromString("rwx------")), p + " " + perms);
    }
    Directories.create(deep, 0750); // all there: nothing to do
    Directories.create(deep.resolveSibling("other"), 0750); // parents there, the last one missing
    assertTrue(Files.isDirectory(deep.resolveSibling("other")));
  }

  @Test
  void somethingElseInTheWayIsAnErrorNamingThePath() throws Exception {
    Path file = Files.writeString(dir.resolve("file"), "x");
    FileAlreadyExistsException notADir = assertThrows(FileAlreadyExistsException.class, () -> Directories.create(file, 0750));
    assertEquals(file.toString(), notADir.getFile());

    Path target = Files.createDirectory(dir.resolve("real"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), target);
    assertThrows(FileAlreadyExistsException.class, () -> Directories.create(link, 0750), "a symbolic link is not followed");

    IOException under = assertThrows(IOException.class, () -> Directories.create(file.resolve("below/deeper"), 0750));
    assertTrue(under.getMessage().contains(file.resolve("below").toString()) && under.getMessage().contains("errno 20"),
        under.getMessage());
  }

  @Test
  void deleteTreeRemovesLinksNotWhatTheyPointToAndKeepsTheTopWhenAsked() throws IOException {
    Path outside = Files.writeString(Files.createDirectories(dir.resolve("outside")).resolve("keep"), "data");
    Path tree = Files.createDirectories(dir.resolve("tree/a/b"));
    Files.writeString(tree.resolve("f"), "x");
    Files.createSymbolicLink(tree.resolve("link"), outside.getParent());
    Path top = dir.resolve("tree");
    Directories.deleteTree(top, false);
    assertTrue(Files.isDirectory(top));
    try (var left = Files.list(top)) {
      assertEquals(0, left.count());
    }
    assertEquals("data", Files.readString(outside), "a link's target is never deleted");
    Directories.deleteTree(top, true);
    assertFalse(Files.exists(top));
    Directories.deleteTree(top, true); // a missing tree is fine
  }
}
