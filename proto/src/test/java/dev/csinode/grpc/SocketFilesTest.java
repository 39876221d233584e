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
}
