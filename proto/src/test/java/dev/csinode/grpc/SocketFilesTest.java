package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whether a socket is served: the answer every removal of a socket rests on. */
class SocketFilesTest {
  @TempDir Path dir;

  @Test
  void aListenerIsServedAndADeadSocketOrAFileIsNot() throws IOException {
    Path sock = dir.resolve("a.sock");
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock));
      assertTrue(SocketFiles.isServed(sock));
    }
    assertTrue(SocketFiles.isSocket(sock), "closing a listener leaves its socket file");
    assertFalse(SocketFiles.isServed(sock));
    assertFalse(SocketFiles.isServed(Files.writeString(dir.resolve("file"), "x")));
    assertFalse(SocketFiles.isServed(dir.resolve("missing.sock")));
  }

  /**
   * A listener that never accepts, its backlog full: a blocking connect(2) would wait forever (check-registration hung
   * on such a socket); it is someone's, so it must count as served, and at once.
   */
  @Test
  void aListenerWithAFullBacklogIsServedWithoutHanging() throws IOException {
    Path sock = dir.resolve("full.sock");
    List<SocketChannel> waiting = new ArrayList<>();
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock), 1);
      try {
        for (int i = 0; i < 64; i++) { // fill the backlog until the kernel refuses more (EAGAIN)
          SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
          c.configureBlocking(false);
          waiting.add(c);
          c.connect(UnixDomainSocketAddress.of(sock));
        }
        fail("the backlog never filled");
      } catch (IOException full) {
        // the backlog is full now
      }
      boolean served = assertTimeoutPreemptively(Duration.ofSeconds(20), () -> SocketFiles.isServed(sock));
      assertTrue(served);
    } finally {
      for (SocketChannel c : waiting) {
        c.close();
      }
    }
  }
  /**
   * A socket that appears while the check runs (a server between bind(2) and listen(2), here a dead socket renamed
   * into place) is not served: a connect that found no file must not count as served because a socket is there a
   * moment later. That answer let FaultProxyCommandTest see a starting proxy "served" (its log still empty) and get
   * connection refused on its first call. Each round has its own path, which goes from absent to a socket once.
   */
  @Test
  void aSocketThatAppearsDuringTheCheckIsNotServedUntilSomethingListens() throws Exception {
    for (int round = 0; round < 300; round++) {
      Path stale = dir.resolve("stale" + round + ".sock");
      try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        s.bind(UnixDomainSocketAddress.of(stale));
      } // closed: the file stays, and nothing listens on it
      Path sock = dir.resolve("appears" + round + ".sock");
      AtomicBoolean moved = new AtomicBoolean();
      CountDownLatch checking = new CountDownLatch(1);
      FutureTask<Boolean> checker = new FutureTask<>(() -> {
        boolean served = false;
        int afterMove = 0;
        while (afterMove < 3) {
          served |= SocketFiles.isServed(sock);
          checking.countDown();
          if (moved.get()) {
            afterMove++;
          }
        }
        return served;
      });
      Thread t = new Thread(checker, "is-served-check");
      t.start();
      assertTrue(checking.await(20, TimeUnit.SECONDS));
      Files.move(stale, sock, StandardCopyOption.ATOMIC_MOVE);
      moved.set(true);
      assertFalse(checker.get(20, TimeUnit.SECONDS), "round " + round + ": a socket nothing listens on counted as served");
    }
  }

  /**
   * A server restart: the stale socket is removed and the new server's socket bound in its place while the check
   * runs. A connect that found no file (ENOENT) must not be made "served" by the new socket being there a moment
   * later, before its server listens (DriverProcess took a restarting driver as up and its first call was refused).
   * Each round replaces the socket at the same path by another dead one, as unlink(2) then bind(2) would.
   */
  @Test
  void aStaleSocketReplacedDuringTheCheckIsNotServedUntilSomethingListens() throws Exception {
    Path sock = dir.resolve("restart.sock");
    deadSocket(sock);
    for (int round = 0; round < 500; round++) {
      Path next = deadSocket(dir.resolve("next" + round + ".sock"));
      AtomicBoolean replaced = new AtomicBoolean();
      CountDownLatch checking = new CountDownLatch(1);
      FutureTask<Boolean> checker = new FutureTask<>(() -> {
        boolean served = false;
        int afterReplace = 0;
        while (afterReplace < 3) {
          served |= SocketFiles.isServed(sock);
          checking.countDown();
          if (replaced.get()) {
            afterReplace++;
          }
        }
        return served;
      });
      Thread t = new Thread(checker, "is-served-check");
      t.start();
      assertTrue(checking.await(20, TimeUnit.SECONDS));
      Files.delete(sock);
      Files.move(next, sock, StandardCopyOption.ATOMIC_MOVE);
      replaced.set(true);
      assertFalse(checker.get(20, TimeUnit.SECONDS), "round " + round + ": a socket nothing listens on counted as served");
    }
  }

  /** The same restart, at the one moment that matters: the file goes away and comes back during the connect. */
  @Test
  void aFileReplacedDuringTheConnectIsChangingWhateverTheConnectFound() throws Exception {
    Path sock = deadSocket(dir.resolve("s.sock"));
    // unlink, connect (ENOENT), bind: the old check read "served" from the socket that is there afterwards
    SocketCheck check = SocketFiles.check(sock, p -> {
      Files.delete(p);
      try {
        return connectNow(p);
      } finally {
        deadSocket(p);
      }
    });
    assertEquals(SocketCheck.Liveness.CHANGING, check.liveness());
    assertFalse(check.served());
    assertNull(check.file(), "a changing path names no file: there is nothing to remove");
    assertFalse(SocketFiles.removeIfUnchanged(check));
    assertTrue(SocketFiles.isSocket(sock));

    // unlink, bind and listen, connect (answered): the answer is the new server's, not the checked file's
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      SocketCheck replaced = SocketFiles.check(sock, p -> {
        Files.delete(p);
        server.bind(UnixDomainSocketAddress.of(p));
        return connectNow(p);
      });
      assertEquals(SocketCheck.Liveness.CHANGING, replaced.liveness());
      assertEquals(SocketCheck.Liveness.SERVED, SocketFiles.check(sock).liveness(), "the next look sees it served");
    }
  }

  /**
   * A socket found stale and replaced before the removal (a new server took the path over) is the new server's: only
   * the very file that was checked may be removed. The old close paths removed whatever was at the path.
   */
  @Test
  void onlyTheFileThatWasCheckedIsRemoved() throws Exception {
    Path sock = deadSocket(dir.resolve("taken.sock"));
    SocketCheck stale = SocketFiles.check(sock);
    assertTrue(stale.stale());
    Files.delete(sock); // the new server's claim
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock));
      assertFalse(SocketFiles.removeIfUnchanged(stale), "the new server's socket was removed");
      assertTrue(SocketFiles.isServed(sock));
    }
    // a replacement nothing listens on yet (between bind and listen) is not the checked file either
    SocketCheck again = SocketFiles.check(sock);
    Files.delete(sock);
    deadSocket(sock);
    assertFalse(SocketFiles.removeIfUnchanged(again));
    assertTrue(SocketFiles.isSocket(sock));
    assertTrue(SocketFiles.removeIfUnchanged(SocketFiles.check(sock)), "the file checked and still there is removed");
    assertFalse(Files.exists(sock, java.nio.file.LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void removeIfStaleRemovesOnlyADeadSocket() throws Exception {
    Path sock = dir.resolve("r.sock");
    assertEquals(SocketFiles.Removal.ABSENT, SocketFiles.removeIfStale(sock));
    Path file = Files.writeString(dir.resolve("plain"), "x");
    assertEquals(SocketFiles.Removal.NOT_A_SOCKET, SocketFiles.removeIfStale(file));
    assertTrue(Files.exists(file));
    try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      server.bind(UnixDomainSocketAddress.of(sock));
      assertEquals(SocketFiles.Removal.SERVED, SocketFiles.removeIfStale(sock));
      assertTrue(SocketFiles.isServed(sock));
    }
    assertEquals(SocketFiles.Removal.REMOVED, SocketFiles.removeIfStale(sock));
    assertFalse(SocketFiles.isSocket(sock));
  }

  private static boolean connectNow(Path p) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.configureBlocking(false);
      ch.connect(UnixDomainSocketAddress.of(p));
      return true;
    }
  }

  /** A socket file nothing listens on, as a crashed server leaves it. */
  private static Path deadSocket(Path p) throws IOException {
    try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      s.bind(UnixDomainSocketAddress.of(p));
    }
    return p;
  }
}
