package dev.csinode.agent.volume;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.mount.RootDir;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * fsGroup ownership of a volume a pod writes to while the walk runs: nothing outside the volume gets the group
 * or a mode, whatever links it holds or swaps in; a FIFO does not hold the walk. Runs as root (chown).
 */
class VolumeOwnershipTest {
  static final int GROUP = 4242;
  Path base;
  Path volume;
  Path outside;
  RootDir root;

  @BeforeEach
  void dirs() throws Exception {
    base = Files.createTempDirectory("csi-node-agent-test-ownership-");
    volume = Files.createDirectories(base.resolve("pods/p/volumes/kubernetes.io~csi/v/mount"));
    outside = Files.createTempDirectory("csi-node-agent-test-outside-");
    root = RootDir.resolve(base);
  }

  @AfterEach
  void clean() throws Exception {
    for (Path dir : List.of(base, outside)) {
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static int gid(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
  }

  private static int mode(Path p) throws Exception {
    return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777;
  }

  private Path outsideFile(String name) throws Exception {
    Path f = Files.writeString(outside.resolve(name), "host file");
    Files.setAttribute(f, "unix:mode", 0600);
    return f;
  }

  @Test
  void linksInTheVolumeAreNotFollowed() throws Exception {
    Path secret = outsideFile("secret");
    Files.setAttribute(outside, "unix:mode", 0700);
    Files.createSymbolicLink(volume.resolve("file-link"), secret);
    Files.createSymbolicLink(volume.resolve("dir-link"), outside);
    Path data = Files.writeString(Files.createDirectories(volume.resolve("d")).resolve("data"), "x");
    Files.setAttribute(data, "unix:mode", 0600);

    assertTrue(VolumeOwnership.apply(root, volume, GROUP, "Always"));

    assertEquals(0, gid(secret));
    assertEquals(0600, mode(secret));
    assertEquals(0, gid(outside));
    assertEquals(0700, mode(outside));
    assertEquals(GROUP, gid(volume.resolve("file-link")), "the link itself gets the group");
    assertEquals(GROUP, gid(data));
    assertEquals(0660, mode(data));
    assertEquals(GROUP, gid(volume.resolve("d")));
    assertEquals(02000 | 0770, mode(volume.resolve("d")) & (02000 | 0770));
    assertEquals(GROUP, gid(volume));
    assertFalse(VolumeOwnership.apply(root, volume, GROUP, "OnRootMismatch"), "the root matches now: no walk");
  }

  @Test
  void aFifoInTheVolumeDoesNotHoldTheWalk() throws Exception {
    Path fifo = volume.resolve("pipe");
    assertEquals(0, new ProcessBuilder("mkfifo", "-m", "0600", fifo.toString()).inheritIO().start().waitFor());
    Path after = Files.writeString(volume.resolve("z-after"), "x");
    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> VolumeOwnership.apply(root, volume, GROUP, "Always"));
    assertEquals(GROUP, gid(fifo));
    assertEquals(0660, mode(fifo));
    assertEquals(GROUP, gid(after));
  }

  /**
   * The pod swaps a directory of the volume for a link to a host directory with the same names while the walk
   * runs, over and over: no host file ever gets the group or a mode.
   */
  @Test
  void aDirectorySwappedForALinkDuringTheWalkIsNeverFollowed() throws Exception {
    List<Path> hostFiles = new ArrayList<>();
    Path d = Files.createDirectories(volume.resolve("d"));
    for (int i = 0; i < 300; i++) {
      hostFiles.add(outsideFile("f" + i));
      Files.writeString(d.resolve("f" + i), "pod file");
    }
    Files.setAttribute(outside, "unix:mode", 0700);
    Path link = volume.resolve("d-link");
    Files.createSymbolicLink(link, outside);
    Path parked = volume.resolve("d-real");
    AtomicBoolean stop = new AtomicBoolean();
    List<Throwable> swapErrors = new ArrayList<>();
    Thread swapper = new Thread(() -> {
      try {
        while (!stop.get()) {
          Files.move(d, parked, StandardCopyOption.ATOMIC_MOVE);
          Files.move(link, d, StandardCopyOption.ATOMIC_MOVE); // d is now a link to the host directory
          Files.move(d, link, StandardCopyOption.ATOMIC_MOVE);
          Files.move(parked, d, StandardCopyOption.ATOMIC_MOVE);
        }
      } catch (Throwable t) {
        synchronized (swapErrors) {
          swapErrors.add(t);
        }
      }
    }, "swapper");
    List<String> walkErrors = new ArrayList<>();
    swapper.start();
    try {
      for (int round = 0; round < 200; round++) {
        try {
          VolumeOwnership.apply(root, volume, GROUP + (round % 2), "Always");
        } catch (Exception e) {
          walkErrors.add(e.toString());
        }
      }
    } finally {
      stop.set(true);
      swapper.join();
    }
    assertEquals(List.of(), swapErrors);
    for (Path f : hostFiles) {
      assertEquals(0, gid(f), f + " got a group");
      assertEquals(0600, mode(f), f + " got a mode");
    }
    assertEquals(0, gid(outside));
    assertEquals(0700, mode(outside));
    assertEquals(List.of(), walkErrors, "the walk copes with entries that move under it");
  }
}
