package dev.csinode.agent.systemd;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import jnr.unixsocket.UnixDatagramChannel;
import jnr.unixsocket.UnixSocketAddress;

/**
 * The sending end of systemd's notify protocol: newline-separated {@code KEY=VALUE} assignments in one datagram to
 * the UNIX socket {@code $NOTIFY_SOCKET} names (a path, or an abstract name written with a leading {@code @}).
 * Without the variable (not started by systemd with {@code Type=notify}) there is no socket and nothing is sent.
 */
public final class NotifySocket implements AutoCloseable {
  /** The environment variable systemd sets for a {@code Type=notify} service. */
  public static final String ENV = "NOTIFY_SOCKET";
  /** A datagram systemd reads whole; far above any state the agent sends. */
  private static final int MAX_DATAGRAM = 4096;

  private final UnixSocketAddress address;
  private final String name;
  private UnixDatagramChannel channel;

  private NotifySocket(String name) {
    this.name = name;
    // Abstract sockets live outside the file system: a leading NUL byte instead of the '@' systemd writes.
    this.address = new UnixSocketAddress(name.startsWith("@") ? "\0" + name.substring(1) : name);
  }

  /**
   * The socket {@code NOTIFY_SOCKET} names, or null when it is unset or empty.
   *
   * @throws IllegalArgumentException when it names neither an absolute path nor an abstract socket
   */
  public static NotifySocket fromEnvironment(Map<String, String> env) {
    String value = env.get(ENV);
    if (value == null || value.isEmpty()) {
      return null;
    }
    if (!value.startsWith("/") && !value.startsWith("@") || value.length() < 2 || value.indexOf('\0') >= 0) {
      throw new IllegalArgumentException(ENV + "=" + value.replaceAll("\\p{Cntrl}", "?")
          + " is neither an absolute socket path nor an abstract name starting with @");
    }
    return new NotifySocket(value);
  }

  /** Sends one state update, e.g. {@code READY=1\nSTATUS=...}; systemd applies its lines together. */
  public synchronized void send(String state) throws IOException {
    byte[] bytes = state.getBytes(StandardCharsets.UTF_8);
    if (bytes.length > MAX_DATAGRAM) {
      throw new IOException("a notification of " + bytes.length + " bytes is larger than " + MAX_DATAGRAM);
    }
    if (channel == null) {
      channel = UnixDatagramChannel.open();
    }
    int sent = channel.send(ByteBuffer.wrap(bytes), address);
    if (sent != bytes.length) {
      throw new IOException("sent " + sent + " of " + bytes.length + " bytes to " + name);
    }
  }

  /** What {@code NOTIFY_SOCKET} named, for messages. */
  public String name() {
    return name;
  }

  @Override
  public synchronized void close() throws IOException {
    if (channel != null) {
      channel.close();
      channel = null;
    }
  }
}
