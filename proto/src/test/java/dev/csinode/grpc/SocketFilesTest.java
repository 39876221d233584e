package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
}
