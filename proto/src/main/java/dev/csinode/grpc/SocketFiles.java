package dev.csinode.grpc;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Facts about socket files on disk (is it a socket, does a live process serve it) and the rule for taking one over. */
public final class SocketFiles {
  private static final Logger LOG = LoggerFactory.getLogger(SocketFiles.class);
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;

  private SocketFiles() {}

  /** True when the path exists and is a UNIX socket (links are not followed). */
  public static boolean isSocket(Path path) {
    try {
      Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      return mode instanceof Integer m && (m & S_IFMT) == S_IFSOCK;
    } catch (IOException | UnsupportedOperationException e) {
      return false;
    }
  }

  /**
   * True when some process listens on the socket now. The connect is non-blocking: a listener that does not accept,
   * once its backlog is full, would hold a blocking connect(2) forever. Refused (ECONNREFUSED) or missing: nobody.
   * Any other failure on a path that is a socket (EAGAIN: a full backlog) counts as served: callers decide from
   * this whether a socket may be removed, and a socket that is someone's must never be. Missing is looked at before
   * the connect: a connect that found nothing (ENOENT) is not made "served" by a socket bound a moment later and not
   * listening yet (a starting server seen as ready got connection refused).
   */
  public static boolean isServed(Path path) {
    if (!Files.exists(path)) { // followed like the connect follows it
      return false;
    }
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.configureBlocking(false);
      ch.connect(UnixDomainSocketAddress.of(path));
      return true; // connected, or pending: either way something listens
    } catch (ConnectException refused) {
      return false;
    } catch (IOException e) {
      return isSocket(path);
    }
  }

  /**
   * Makes the path bindable, or throws {@link SocketInUseException} if doing so would harm another program or
   * a file that is not a socket. NIO refuses to bind over any file and epoll silently unlinks any file, so
   * neither transport can be trusted with this: something answers at the path, refuse; a dead socket, remove
   * it; anything else, refuse and leave it alone. Creates missing parent directories.
   */
  public static void claimForListening(Path path) throws IOException {
    Path parent = path.getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    if (!isSocket(path)) {
      throw new SocketInUseException(path, "cannot listen on " + path + ": the path exists and is not a socket; "
          + "move that file away or choose another path");
    }
    if (isServed(path)) {
      throw new SocketInUseException(path, "cannot listen on " + path + ": another process is serving this socket; "
          + "stop it first or choose another path");
    }
    LOG.info("removing stale socket {} (nothing listens on it)", path);
    Files.deleteIfExists(path);
  }
}
