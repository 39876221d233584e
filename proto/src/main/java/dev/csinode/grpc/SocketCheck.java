package dev.csinode.grpc;

import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

/**
 * What one look at a socket path found ({@link SocketFiles#check}): whether something served it, and which file
 * was looked at. {@code file} is the file at the path, the same before and after the connect; null when the path
 * was missing (then {@code NOT_SERVED}) and always null for {@code CHANGING}.
 */
public record SocketCheck(Path path, Liveness liveness, FileIdentity file) {
  public enum Liveness {
    /** Something listened on this very file. */
    SERVED,
    /** Nothing listened on it (refused), it is not a socket, or the path is missing. */
    NOT_SERVED,
    /**
     * The file at the path was replaced (or removed, or made) while it was checked: another process is taking the
     * path over, typically a server that removes a stale socket and binds its own. Not served yet, and not stale:
     * look again later, and remove nothing.
     */
    CHANGING
  }

  /**
   * Which file sits at a path, without following a link: device and inode, its type, and its ctime, because a
   * file system may give a new file the inode number of one just removed (a server's new socket that of its
   * stale one), whereas the ctime of the new file is the moment it was made.
   */
  public record FileIdentity(Object key, FileTime ctime, boolean socket) {}

  public boolean served() {
    return liveness == Liveness.SERVED;
  }

  public boolean absent() {
    return liveness == Liveness.NOT_SERVED && file == null;
  }

  /** A socket nothing listened on: the only file {@link SocketFiles#removeIfUnchanged} ever removes. */
  public boolean stale() {
    return liveness == Liveness.NOT_SERVED && file != null && file.socket();
  }
}
