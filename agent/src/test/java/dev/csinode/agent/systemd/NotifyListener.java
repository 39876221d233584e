package dev.csinode.agent.systemd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;

/**
 * Test double of systemd's end of the notify protocol: a bound UNIX datagram socket (a path, or an abstract name)
 * and a thread that queues each datagram it receives.
 */
public final class NotifyListener implements AutoCloseable {
  private final UnixDatagramChannel channel;
  private final BlockingQueue<String> received = new LinkedBlockingQueue<>();
  private final Thread reader;
  /** The value for NOTIFY_SOCKET. */
  public final String address;

  private NotifyListener(String address, String bindName) throws IOException {
    this.address = address;
    this.channel = UnixDatagramChannel.open();
    channel.bind(new UnixSocketAddress(bindName));
    reader = new Thread(this::read, "notify-listener");
    reader.setDaemon(true);
    reader.start();
  }

  public static NotifyListener atPath(Path socket) throws IOException {
    return new NotifyListener(socket.toString(), socket.toString());
  }

  public static NotifyListener abstractNamed(String name) throws IOException {
    return new NotifyListener("@" + name, "\0" + name);
  }

  private void read() {
    ByteBuffer buf = ByteBuffer.allocate(8192);
    while (channel.isOpen()) {
      try {
        buf.clear();
        channel.receive(buf);
        buf.flip();
        received.add(StandardCharsets.UTF_8.decode(buf).toString());
      } catch (IOException e) {
        return;
      }
    }
  }

  /** The next datagram, or null when none comes in time. */
  public String next(Duration timeout) throws InterruptedException {
    return received.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Datagrams up to and including the first that matches; fails with what came when none does in time. */
  public List<String> until(Predicate<String> wanted, Duration timeout) throws InterruptedException {
    List<String> seen = new ArrayList<>();
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      String d = received.poll(Math.max(1, (end - System.nanoTime()) / 1_000_000), TimeUnit.MILLISECONDS);
      if (d == null) {
        break;
      }
      seen.add(d);
      if (wanted.test(d)) {
        return seen;
      }
    }
    throw new AssertionError("no matching notification within " + timeout + "; received: " + seen);
  }

  /** What arrived so far without waiting. */
  public List<String> drain() {
    List<String> all = new ArrayList<>();
    received.drainTo(all);
    return all;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
