package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Private state: records 0600 in 0700 directories, as created and after a start that finds them wider. */
class PrivateFilesTest {
  @TempDir Path dir;

  private static String mode(Path p) throws Exception {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void aRecordLogIsCreatedPrivateAndStaysSoThroughCompactions() throws Exception {
    Path file = dir.resolve("state/records.log");
    try (RecordLog log = RecordLog.open(file)) {
      assertEquals("rwx------", mode(file.getParent()));
      assertEquals("rw-------", mode(file));
      for (int round = 0; round < 3; round++) { // each round passes the compaction threshold
        for (int i = 0; i < 1100; i++) {
          log.putUntilReboot("k", "{\"secret\":" + i + "}");
        }
        RecordLog.await(log.put("k", "{\"secret\":\"last\"}"));
        assertEquals("rw-------", mode(file));
      }
    }
    try (RecordLog reopened = RecordLog.open(file)) { // compacts at open
      assertEquals("rw-------", mode(file));
    }
  }

  @Test
  void anAtomicFileWithPrivateAttributesIsCreatedSo() throws Exception {
    Path f = dir.resolve("secret.json");
    AtomicFile.write(f, "{}".getBytes(), PrivateFiles.FILE);
    assertEquals("rw-------", mode(f));
  }

  @Test
  void restrictNarrowsWhatIsWiderLeavesWhatItIsToldAndFollowsNoSymlink() throws Exception {
    Path top = Files.createDirectories(dir.resolve("state/journal"));
    Path parent = top.getParent();
    Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(top, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path log = Files.writeString(top.resolve("journal.log"), "{}");
    Files.setPosixFilePermissions(log, PosixFilePermissions.fromString("rw-r--r--"));
    Path data = Files.createDirectories(parent.resolve("volumes/v1"));
    Files.setPosixFilePermissions(data, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path outside = Files.writeString(dir.resolve("outside.txt"), "x");
    Files.setPosixFilePermissions(outside, PosixFilePermissions.fromString("rw-r--r--"));
    Files.createSymbolicLink(parent.resolve("link"), outside);

    assertEquals(4, PrivateFiles.restrict(RootDir.resolve(dir), parent, p -> p.equals(data))); // state, journal, journal.log, volumes
    assertEquals("rwx------", mode(parent));
    assertEquals("rwx------", mode(top));
    assertEquals("rw-------", mode(log));
    assertEquals("rwx------", mode(parent.resolve("volumes")));
    assertEquals("rwxrwxrwx", mode(data), "what the caller leaves is left");
    assertEquals("rw-r--r--", mode(outside), "a symlink is never followed");
    assertEquals(0, PrivateFiles.restrict(RootDir.resolve(dir), parent, p -> p.equals(data)), "once narrowed, nothing more to do (and to log)");
  }

  @Test
  void restrictOnlyTakesAwayWhatOthersMayDoAndNeverGivesTheOwnerMore() throws Exception {
    Path top = Files.createDirectories(dir.resolve("state"));
    Path readOnlyDir = Files.createDirectories(top.resolve("sealed"));
    Path readOnlyFile = Files.writeString(top.resolve("sealed.log"), "{}");
    Path groupFile = Files.writeString(top.resolve("shared.log"), "{}");
    Files.setPosixFilePermissions(readOnlyFile, PosixFilePermissions.fromString("r--------"));
    Files.setPosixFilePermissions(groupFile, PosixFilePermissions.fromString("r--r-----"));
    Files.setPosixFilePermissions(readOnlyDir, PosixFilePermissions.fromString("r-x------"));
    Files.setPosixFilePermissions(top, PosixFilePermissions.fromString("rwxr-x---"));
    try {
      assertEquals(2, PrivateFiles.restrict(RootDir.resolve(dir), top, p -> false)); // state, shared.log
      assertEquals("rwx------", mode(top));
      assertEquals("r--------", mode(groupFile), "group read taken away, no owner write given");
      assertEquals("r--------", mode(readOnlyFile), "never widened");
      assertEquals("r-x------", mode(readOnlyDir), "never widened");
    } finally {
      Files.setPosixFilePermissions(readOnlyDir, PosixFilePermissions.fromString("rwx------")); // for @TempDir's cleanup
    }
  }

  @Test
  void aRecordLogWhoseDirectoryIsASymlinkIsRefusedAndWritesNothingThere() throws Exception {
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Files.createSymbolicLink(dir.resolve("state"), elsewhere);
    IOException refused = assertThrows(IOException.class, () -> RecordLog.open(dir.resolve("state/records.log")).close());
    assertTrue(refused.getMessage().contains(dir.resolve("state").toString()), refused.getMessage());
    try (var there = Files.list(elsewhere)) {
      assertEquals(List.of(), there.toList());
    }
  }
}
