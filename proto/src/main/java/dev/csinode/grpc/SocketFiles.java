package dev.csinode.grpc;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Facts about socket files on disk (is it a socket, does a live process serve it) and the rules for removing one:
 * never a socket another live process serves, never a file that is not a socket, and only the very file that was
 * found stale. A server that restarts removes its stale socket and binds a new one at the same path; whoever
 * looks meanwhile sees the file change ({@link SocketCheck.Liveness#CHANGING}) and must neither call it served
 * nor remove what is there.
 */
public final class SocketFiles {
  private static final Logger LOG = LoggerFactory.getLogger(SocketFiles.class);
  private static final int S_IFMT = 0170000;
  private static final int S_IFSOCK = 0140000;

  /** What {@link #removeIfStale} did. */
  public enum Removal {
    /** The path held a socket nothing listened on; that file is gone. */
    REMOVED,
    /** Nothing was at the path. */
    ABSENT,
    /** The path holds something that is not a socket: left alone. */
    NOT_A_SOCKET,
    /** Something listens on the socket: left alone. */
    SERVED,
    /** The file at the path was being replaced: left alone, whoever replaces it owns it. */
    CHANGING
  }

  /** The connect of a check, replaceable in tests so that they can change the file at the very moment. */
  @FunctionalInterface
  interface Connect {
    /** True when connected or pending; throws ConnectException when refused. */
    boolean connect(Path path) throws IOException;
  }

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
   * True when some process listens on the socket now ({@link #check} found it {@code SERVED}). For waiting until a
   * server is up. Never decide from {@code !isServed} that a socket may be removed: a socket being replaced is not
   * served and yet not stale; use {@link #removeIfStale} or {@link #removeIfUnchanged}.
   */
  public static boolean isServed(Path path) {
    return check(path).served();
  }

  /**
   * Whether some process listens on the socket at the path, and which file that answer is about. The file at the
   * path (lstat: device, inode, ctime) is read before and after the connect; when they differ (a restarting server
   * removed the stale socket and bound its own, perhaps not listening yet) the answer is {@code CHANGING}: a
   * connect that found no file, or found the new one, says nothing about either file.
   *
   * <p>The connect is non-blocking: a listener that does not accept, once its backlog is full, would hold a
   * blocking connect(2) forever. Refused (ECONNREFUSED): nobody. Any other failure on a socket that stayed in place
   * (EAGAIN: a full backlog) counts as served: callers decide from this whether a socket may be removed, and a
   * socket that is someone's must never be.
   */
  public static SocketCheck check(Path path) {
    return check(path, SocketFiles::connect);
  }

  static SocketCheck check(Path path, Connect connect) {
    SocketCheck.FileIdentity before = identity(path);
    if (before == null) {
      return new SocketCheck(path, SocketCheck.Liveness.NOT_SERVED, null);
    }
    boolean answered;
    try {
      answered = connect.connect(path);
    } catch (ConnectException refused) {
      answered = false;
    } catch (IOException e) {
      answered = before.socket();
    }
    SocketCheck.FileIdentity after = identity(path);
    if (!before.equals(after)) {
      return new SocketCheck(path, SocketCheck.Liveness.CHANGING, null);
    }
    return new SocketCheck(path, answered ? SocketCheck.Liveness.SERVED : SocketCheck.Liveness.NOT_SERVED, before);
  }

  private static boolean connect(Path path) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.configureBlocking(false);
      ch.connect(UnixDomainSocketAddress.of(path));
      return true; // connected, or pending: either way something listens
    }
  }

  /** The file at the path, links not followed; null when there is none (or it cannot be read). */
  static SocketCheck.FileIdentity identity(Path path) {
    try {
      Map<String, Object> a = Files.readAttributes(path, "unix:mode,dev,ino,ctime", LinkOption.NOFOLLOW_LINKS);
      boolean socket = a.get("mode") instanceof Integer m && (m & S_IFMT) == S_IFSOCK;
      return new SocketCheck.FileIdentity(List.of(a.get("dev"), a.get("ino")), (FileTime) a.get("ctime"), socket);
    } catch (IOException | UnsupportedOperationException e) {
      return null;
    }
  }

  /** Removes the socket at the path if nothing listens on it and it stays the same file meanwhile. */
  public static Removal removeIfStale(Path path) throws IOException {
    SocketCheck check = check(path);
    return switch (check.liveness()) {
      case SERVED -> Removal.SERVED;
      case CHANGING -> Removal.CHANGING;
      case NOT_SERVED -> {
        if (check.absent()) {
          yield Removal.ABSENT;
        }
        if (!check.stale()) {
          yield Removal.NOT_A_SOCKET;
        }
        yield removeIfUnchanged(check) ? Removal.REMOVED : Removal.CHANGING;
      }
    };
  }

  /**
   * Removes the file the check found stale, and only that file: false (nothing removed) unless the check found a
   * socket nothing listened on and the path still holds that very file. Linux has no unlink-if-this-inode, so one
   * window remains: a process that removes this file and binds its own socket at the path between the second look
   * below and the unlink(2), a few microseconds, loses its socket file (its listener stays open but cannot be
   * reached by path). A server found between its bind(2) and its listen(2) looks stale too; the JDK's and Netty's
   * bind do both back to back.
   */
  public static boolean removeIfUnchanged(SocketCheck check) throws IOException {
    if (!check.stale()) {
      return false;
    }
    if (!check.file().equals(identity(check.path()))) {
      return false;
    }
    try {
      Files.delete(check.path());
      return true;
    } catch (NoSuchFileException gone) {
      return false;
    }
  }

  /**
   * Makes the path bindable, or throws {@link SocketInUseException} if doing so would harm another program or
   * a file that is not a socket. NIO refuses to bind over any file and epoll silently unlinks any file, so
   * neither transport can be trusted with this: something answers at the path, refuse; a dead socket, remove
   * it; a socket being replaced by another process, refuse; anything else, refuse and leave it alone. Creates
   * missing parent directories.
   */
  public static void claimForListening(Path path) throws IOException {
    Path parent = path.getParent();
    if (parent != null) {
      Files.createDirectories(parent);
    }
    switch (removeIfStale(path)) {
      case ABSENT -> { }
      case REMOVED -> LOG.info("removed stale socket {} (nothing listened on it)", path);
      case NOT_A_SOCKET -> throw new SocketInUseException(path, "cannot listen on " + path
          + ": the path exists and is not a socket; move that file away or choose another path");
      case SERVED -> throw new SocketInUseException(path, "cannot listen on " + path
          + ": another process is serving this socket; stop it first or choose another path");
      case CHANGING -> throw new SocketInUseException(path, "cannot listen on " + path
          + ": another process replaced the socket there while it was checked (a second instance starting?); "
          + "stop it first or choose another path");
    }
  }
}
