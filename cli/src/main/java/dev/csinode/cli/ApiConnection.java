package dev.csinode.cli;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * One connection to the agent's API socket, on the JDK's own UNIX-domain channel, whose reads and writes give up at
 * a deadline: a UNIX-domain channel has no socket adapter (so no SO_TIMEOUT), hence non-blocking I/O and a selector.
 */
final class ApiConnection implements Closeable {
  private final SocketChannel channel;
  private final Selector selector;
  private final SelectionKey key;
  /** System.nanoTime() at which reads and writes give up; meaningless without a deadline. */
  private final long deadlineNanos;
  private final boolean hasDeadline;
  private final String timeoutMessage;

  private ApiConnection(SocketChannel channel, Selector selector, SelectionKey key, Duration timeout, long start, String timeoutMessage) {
    this.channel = channel;
    this.selector = selector;
    this.key = key;
    this.hasDeadline = timeout != null;
    this.deadlineNanos = timeout == null ? 0 : start + timeout.toNanos();
    this.timeoutMessage = timeoutMessage;
  }

  /**
   * Connects without blocking: on Linux a UNIX socket's connect completes at once (accepted into the listener's
   * backlog), or fails at once, refused when nobody serves the socket, or with EAGAIN when its backlog is full (a stuck
   * agent that accepts no more): never a CLI that hangs in connect. {@code timeout} (at most a few days: the caller
   * bounds it) null means no deadline, and {@code timeoutMessage} is the error once it has passed.
   */
  static ApiConnection open(Path socket, Duration timeout, String timeoutMessage) throws IOException {
    long start = System.nanoTime();
    SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
    Selector selector = null;
    try {
      channel.configureBlocking(false);
      selector = Selector.open();
      SelectionKey key = channel.register(selector, 0);
      ApiConnection c = new ApiConnection(channel, selector, key, timeout, start, timeoutMessage);
      boolean connected;
      try {
        connected = channel.connect(UnixDomainSocketAddress.of(socket));
      } catch (ConnectException e) {
        throw new ConnectException("nobody serves the agent API socket " + socket + " (connection refused): is the agent"
            + " running with this --root-dir?");
      } catch (SocketException e) {
        if (!String.valueOf(e.getMessage()).contains("temporarily unavailable")) {
          throw new SocketException("cannot connect to the agent API socket " + socket + ": " + e.getMessage());
        }
        throw new SocketException("the agent at " + socket + " is not accepting connections (its backlog is full):"
            + " is it stuck? Its log may tell");
      }
      // Not on Linux (a UNIX socket connects or fails at once), but a connect that is pending is finished in time.
      while (!connected) {
        c.await(SelectionKey.OP_CONNECT);
        connected = channel.finishConnect();
      }
      return c;
    } catch (IOException | RuntimeException e) {
      if (selector != null) {
        selector.close();
      }
      channel.close();
      throw e;
    }
  }

  void write(byte[] bytes) throws IOException {
    ByteBuffer src = ByteBuffer.wrap(bytes);
    while (src.hasRemaining()) {
      if (channel.write(src) == 0) {
        await(SelectionKey.OP_WRITE);
      }
    }
  }

  /** The answer's bytes as they come; a read that would pass the deadline fails with the timeout message. */
  InputStream input() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        ByteBuffer dst = ByteBuffer.wrap(b, off, len);
        while (true) {
          int n = channel.read(dst);
          if (n != 0) {
            return n;
          }
          await(SelectionKey.OP_READ);
        }
      }
    };
  }

  private void await(int op) throws IOException {
    key.interestOps(op);
    while (true) {
      int ready;
      if (hasDeadline) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
          throw new ApiTimeoutException(timeoutMessage);
        }
        // select(0) would wait for ever: at least one millisecond.
        ready = selector.select(Math.max(1, left / 1_000_000));
      } else {
        ready = selector.select();
      }
      selector.selectedKeys().clear();
      if (ready > 0) {
        return;
      }
      // An interrupted thread's select returns at once, for ever: the interrupt ends the request instead.
      if (Thread.currentThread().isInterrupted()) {
        throw new InterruptedIOException("interrupted while waiting for the agent API");
      }
    }
  }

  @Override
  public void close() throws IOException {
    try {
      selector.close();
    } finally {
      channel.close();
    }
  }

  /** The agent did not answer in time. */
  static final class ApiTimeoutException extends IOException {
    ApiTimeoutException(String message) {
      super(message);
    }
  }
}
