package dev.csinode.grpc;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/** Facts about socket files on disk: is it a socket, and does a live process serve it. */
public final class SocketFiles {
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

  /** True when a connect(2) to the socket succeeds, i.e. some process is listening on it now. */
  public static boolean isServed(Path path) {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(path));
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
