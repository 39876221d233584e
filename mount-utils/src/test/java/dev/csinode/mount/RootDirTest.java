package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.testing.PrivateMountNamespace;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Everything beneath a root is reached without following a symbolic link, whatever an attacker puts in the way. */
class RootDirTest {
  @TempDir Path dir;
  Path rootPath;
  Path outside;
  RootDir root;

  @BeforeEach
  void layout() throws Exception {
    rootPath = Files.createDirectories(dir.resolve("kubelet"));
    outside = Files.createDirectories(dir.resolve("outside"));
    root = RootDir.resolve(rootPath);
  }

  @Test
  void theRootItselfMayBeALinkAndIsResolvedOnce() throws Exception {
    Path link = Files.createSymbolicLink(dir.resolve("var-lib-kubelet"), rootPath);
    RootDir viaLink = RootDir.resolve(link);
    assertEquals(rootPath.toRealPath(), viaLink.path());
    try (PathHandle h = viaLink.createDirectories(link.resolve("pods/u1"), 0750)) {
      assertEquals(link.resolve("pods/u1"), h.path());
    }
    assertTrue(Files.isDirectory(rootPath.resolve("pods/u1"), LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void aRootThatIsMissingOrNotADirectoryIsRefusedAndOneWithLinksAboveResolvesAsTheJdkDoes() throws Exception {
    assertThrows(NoSuchFileException.class, () -> RootDir.resolve(dir.resolve("missing")));
    Path file = Files.writeString(dir.resolve("file"), "x");
    assertThrows(NotDirectoryException.class, () -> RootDir.resolve(file));
    assertThrows(NotDirectoryException.class, () -> RootDir.resolve(Files.createSymbolicLink(dir.resolve("to-file"), file)));
    Path deep = Files.createDirectories(rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/pvc-1"));
    Path linked = Files.createSymbolicLink(dir.resolve("linked"), rootPath).resolve("pods/u1/volumes/kubernetes.io~csi/pvc-1");
    RootDir r = RootDir.resolve(linked);
    assertEquals(deep.toRealPath(), r.path());
    assertEquals(linked, r.given());
  }

  @Test
  void aLinkAtAnyComponentIsRefusedNamingItAndNothingIsMadeOutside() throws Exception {
    Files.createDirectories(rootPath.resolve("pods"));
    Path podLink = Files.createSymbolicLink(rootPath.resolve("pods/u1"), outside);
    SymlinkRefusedException e = assertThrows(SymlinkRefusedException.class,
        () -> root.createDirectories(rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/data"), 0750));
    assertEquals(podLink.toString(), e.getFile());
    assertThrows(SymlinkRefusedException.class, () -> root.writeFile(rootPath.resolve("pods/u1/vol_data.json"), new byte[1]));
    assertThrows(SymlinkRefusedException.class, () -> root.kind(rootPath.resolve("pods/u1/volumes")));
    assertThrows(SymlinkRefusedException.class, () -> root.kind(podLink));
    assertThrows(SymlinkRefusedException.class, () -> root.readFile(podLink.resolve("x")));
    assertEquals(List.of(), List.of(outside.toFile().list()), "nothing made outside the root");

    // The leaf: a link to a directory or to a file is refused too, for directories and files alike.
    Path leaf = Files.createSymbolicLink(Files.createDirectories(rootPath.resolve("pods/u2/v")).resolve("mount"), outside);
    assertEquals(leaf.toString(), assertThrows(SymlinkRefusedException.class, () -> root.createDirectories(leaf, 0750)).getFile());
    assertThrows(SymlinkRefusedException.class, () -> root.open(leaf));
    assertThrows(SymlinkRefusedException.class, () -> root.createFile(leaf, 0640));
    Path fileLink = Files.createSymbolicLink(rootPath.resolve("pods/u2/v/vol_data.json"), Files.writeString(outside.resolve("f"), "x"));
    assertThrows(SymlinkRefusedException.class, () -> root.readFile(fileLink));
    root.writeFile(fileLink, "{}".getBytes()); // replaces the link itself, never writes through it
    assertEquals("x", Files.readString(outside.resolve("f")));
    assertEquals("{}", Files.readString(fileLink, StandardCharsets.UTF_8));
    assertFalse(Files.isSymbolicLink(fileLink));
  }

  @Test
  void aFileWhereADirectoryBelongsDotDotAndPathsOutsideAreRefused() throws Exception {
    Files.writeString(rootPath.resolve("pods"), "not a directory");
    assertEquals(rootPath.resolve("pods").toString(),
        assertThrows(NotDirectoryException.class, () -> root.createDirectories(rootPath.resolve("pods/u1"), 0750)).getFile());
    assertThrows(FileSystemException.class, () -> root.createDirectories(rootPath.resolve("plugins/../../outside/x"), 0750));
    // '.' and '..' segments anywhere, the last one too, are refused before anything is made; names with dots are names.
    for (String dotted : List.of("plugins/./x", "plugins/x/..", "plugins/x/.", "plugins/../plugins/x")) {
      assertTrue(assertThrows(FileSystemException.class, () -> root.createDirectories(rootPath.resolve(dotted), 0750))
          .getMessage().contains("'.' or '..' segment"), dotted);
    }
    assertFalse(Files.exists(rootPath.resolve("plugins")));
    root.createDirectories(rootPath.resolve("dotted/..x/.y/z.."), 0750).close();
    assertTrue(Files.isDirectory(rootPath.resolve("dotted/..x/.y/z..")));
    assertThrows(FileSystemException.class, () -> root.open(outside));
    assertThrows(FileSystemException.class, () -> root.open(Path.of("relative/path")));
    assertFalse(Files.exists(outside.resolve("x")));
    assertEquals(RootDir.Kind.MISSING, root.kind(rootPath.resolve("plugins/kubernetes.io/csi")));
    assertThrows(NoSuchFileException.class, () -> root.open(rootPath.resolve("plugins")));
  }

  /** A CSI staging or target path: the CO's parent (made if missing, reached through links above it), the entry never a link. */
  @Test
  void anEntryIsMadeAndOpenedBeneathItsParentWhichIsMadeIfMissingAndMayBeReachedThroughALink() throws Exception {
    Path target = rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/pvc-1/mount");
    try (PathHandle h = RootDir.createBeneathParent(target, true, 0750, 0750)) {
      assertEquals(target, h.path());
      assertTrue(Files.isDirectory(h.procPath()));
    }
    assertTrue(Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS));
    RootDir.createBeneathParent(target, true, 0750, 0750).close(); // there already: opened as it is

    Path viaLink = Files.createSymbolicLink(dir.resolve("var-lib-kubelet"), rootPath).resolve("pods/u1/volumes/kubernetes.io~csi/pvc-2/mount");
    RootDir.createBeneathParent(viaLink, true, 0750, 0750).close();
    assertTrue(Files.isDirectory(rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/pvc-2/mount"), LinkOption.NOFOLLOW_LINKS));

    Path block = rootPath.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/pvc-3/pod-1");
    try (PathHandle h = RootDir.createBeneathParent(block, false, 0640, 0750)) {
      assertTrue(Files.isRegularFile(h.procPath()));
    }
    assertEquals(0, Files.size(block));
    RootDir.createBeneathParent(block, false, 0640, 0750).close();
  }

  @Test
  void anEntryOrParentThatIsALinkOrTheWrongKindIsRefusedAndNothingIsMadeOutside() throws Exception {
    Path parent = Files.createDirectories(rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/pvc-1"));
    Path leaf = Files.createSymbolicLink(parent.resolve("mount"), outside);
    assertEquals(leaf.toString(), assertThrows(SymlinkRefusedException.class,
        () -> RootDir.createBeneathParent(leaf, true, 0750, 0750)).getFile());
    assertEquals(leaf.toString(), assertThrows(SymlinkRefusedException.class,
        () -> RootDir.createBeneathParent(leaf, false, 0640, 0750)).getFile());
    Path parentLink = Files.createSymbolicLink(rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/pvc-2"), outside);
    assertEquals(parentLink.toString(), assertThrows(FileAlreadyExistsException.class,
        () -> RootDir.createBeneathParent(parentLink.resolve("mount"), true, 0750, 0750)).getFile());
    assertEquals(List.of(), List.of(outside.toFile().list()), "nothing made outside the root");

    Path file = Files.writeString(parent.resolve("file"), "x");
    assertThrows(NotDirectoryException.class, () -> RootDir.createBeneathParent(file, true, 0750, 0750));
    Path directory = Files.createDirectories(parent.resolve("dir"));
    assertThrows(FileAlreadyExistsException.class, () -> RootDir.createBeneathParent(directory, false, 0640, 0750));
    assertThrows(FileSystemException.class, () -> RootDir.createBeneathParent(parent.resolve("../../x"), true, 0750, 0750));
    assertThrows(FileSystemException.class, () -> RootDir.createBeneathParent(parent.resolve(".."), true, 0750, 0750));
    assertFalse(Files.exists(rootPath.resolve("pods/u1/x")));
  }

  @Test
  void filesAreWrittenReadReplacedAndDeletedBeneathTheRoot() throws Exception {
    Path file = rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/data/vol_data.json");
    root.createDirectories(file.getParent(), 0750).close();
    root.writeFile(file, "one".getBytes());
    root.writeFile(file, "two".getBytes());
    assertEquals("two", new String(root.readFile(file).orElseThrow()));
    assertEquals(List.of("vol_data.json"), List.of(file.getParent().toFile().list()), "no temp file left");
    assertEquals(RootDir.Kind.FILE, root.kind(file));
    assertEquals(RootDir.Kind.DIRECTORY, root.kind(file.getParent()));
    Path link = rootPath.resolve("pods/u1/dev");
    root.symlink(link, outside);
    root.symlink(link, outside); // a link there is replaced
    assertEquals(outside, Files.readSymbolicLink(link));
    assertTrue(root.delete(link));
    assertTrue(Files.isDirectory(outside), "the link went, not what it pointed to");
    assertThrows(DirectoryNotEmptyException.class, () -> root.delete(file.getParent()));
    assertTrue(root.delete(file));
    assertFalse(root.delete(file));
    assertTrue(root.delete(file.getParent()));
    assertEquals(Optional.empty(), root.readFile(file));

    // A FIFO in place of a record is refused at once instead of hanging the reader.
    root.createDirectories(file.getParent(), 0750).close();
    Process mkfifo = new ProcessBuilder("mkfifo", file.toString()).start();
    assertEquals(0, mkfifo.waitFor());
    FileSystemException fifo = assertThrows(FileSystemException.class, () -> root.readFile(file));
    assertTrue(fifo.getMessage().contains("not a regular file"), fifo.getMessage());
  }

  /**
   * A component swapped for a link while the handle is held does not move the mount: it lands on the directory that
   * was opened (the race CVE-2021-25741 exploited).
   */
  @Test
  void aMountGoesOntoTheOpenedDirectoryEvenWhenItsPathIsSwappedForALink() throws Exception {
    PrivateMountNamespace.require();
    Mounter mounter = new Mounter();
    Path source = Files.createDirectories(dir.resolve("source"));
    Files.writeString(source.resolve("data"), "volume");
    Path target = rootPath.resolve("pods/u1/volumes/kubernetes.io~csi/data/mount");
    try (PathHandle h = root.createDirectories(target, 0750)) {
      Path pod = rootPath.resolve("pods/u1");
      Files.move(pod, rootPath.resolve("pods/u1.moved"));
      Files.createSymbolicLink(pod, outside); // the attacker's link, now where the pod directory was
      Files.createDirectories(outside.resolve("volumes/kubernetes.io~csi/data/mount"));
      mounter.bind(source, h, true, List.of("nodev"));
      try {
        assertFalse(mounter.isMountPoint(outside.resolve("volumes/kubernetes.io~csi/data/mount")), "nothing mounted outside");
        Path real = rootPath.resolve("pods/u1.moved/volumes/kubernetes.io~csi/data/mount");
        MountInfo m = MountTable.read().at(real).orElseThrow();
        assertTrue(m.readOnly(), "the remount reached the new mount");
        assertEquals("volume", Files.readString(real.resolve("data")));
        assertThrows(SymlinkRefusedException.class, h::reopen, "the path now passes a link: refused");
      } finally {
        mounter.unmountAll(rootPath.resolve("pods/u1.moved/volumes/kubernetes.io~csi/data/mount"));
      }
    }
  }

  /** A link swapped in and out in a tight loop never gets a directory or a file made outside the root. */
  @Test
  void aRacingSwapNeverLeadsOutside() throws Exception {
    Path pods = Files.createDirectories(rootPath.resolve("pods"));
    Path real = Files.createDirectories(rootPath.resolve("pods-real"));
    AtomicBoolean stop = new AtomicBoolean();
    Thread swapper = new Thread(() -> {
      Path link = rootPath.resolve("pods/u1.tmp");
      while (!stop.get()) {
        try {
          Files.move(real, pods.resolve("u1"), StandardCopyOption.ATOMIC_MOVE);
          Files.move(pods.resolve("u1"), real, StandardCopyOption.ATOMIC_MOVE);
          Files.deleteIfExists(link);
          Files.createSymbolicLink(link, outside);
          Files.move(link, pods.resolve("u1"), StandardCopyOption.ATOMIC_MOVE);
          Files.delete(pods.resolve("u1"));
        } catch (Exception e) {
          // the swapper races with itself only through the walk: ignore its own misses
        }
      }
    });
    swapper.start();
    try {
      for (int i = 0; i < 2000; i++) {
        try {
          root.createDirectories(pods.resolve("u1/volumes/v" + i), 0750).close();
          root.writeFile(pods.resolve("u1/volumes/v" + i + "/vol_data.json"), "{}".getBytes());
        } catch (IOException expected) {
          // refused or raced away: fine, as long as nothing lands outside
        }
      }
    } finally {
      stop.set(true);
      swapper.join();
    }
    assertEquals(List.of(), List.of(outside.toFile().list()), "nothing made outside the root");
  }
}
