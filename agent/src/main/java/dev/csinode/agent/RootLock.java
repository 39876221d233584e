package dev.csinode.agent;

import dev.csinode.grpc.SocketCheck;
import dev.csinode.grpc.SocketFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One agent per root: an exclusive lock on {@code <state>/agent.lock} held while the agent runs (the kernel drops it
 * when the process dies, so a crash never leaves a stale lock), taken before the journal is read: two agents
 * reconstructing and changing one root would unmount each other's work. A kubelet using the same root is refused
 * too: its sockets under the root answer.
 */
public final class RootLock implements AutoCloseable {
  static final String FILE = "agent.lock";
  /** Sockets a running kubelet serves beneath its root directory. */
  static final List<String> KUBELET_SOCKETS = List.of("device-plugins/kubelet.sock", "pod-resources/kubelet.sock");

  /**
   * The roots this process holds: a POSIX lock belongs to the process, so a second acquire here would be granted
   * (or, failing, its close would drop the first one's lock); this set refuses it before the file is opened.
   */
  private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

  private final FileChannel channel;
  private final FileLock lock;
  private final Path file;

  private RootLock(FileChannel channel, FileLock lock, Path file) {
    this.channel = channel;
    this.lock = lock;
    this.file = file;
  }

  /**
   * Refuses a root a live kubelet serves: before anything is made beneath it.
   *
   * @throws IllegalStateException naming the kubelet's socket that answers
   */
  public static void refuseKubelet(Path rootDir) {
    for (String s : KUBELET_SOCKETS) {
      Path socket = rootDir.resolve(s);
      SocketCheck check = SocketFiles.check(socket);
      if (check.served() && check.file().socket()) {
        throw new IllegalStateException("a kubelet serves the root directory " + rootDir + " (its socket " + socket
            + " answers); two node agents on one root would undo each other's mounts: stop the kubelet or give another --root-dir");
      }
      if (check.liveness() == SocketCheck.Liveness.CHANGING) {
        throw new IllegalStateException("a kubelet is starting on the root directory " + rootDir + " (its socket " + socket
            + " was replaced while it was checked); two node agents on one root would undo each other's mounts: "
            + "stop the kubelet or give another --root-dir");
      }
    }
  }

  /**
   * Takes the lock, or fails saying who holds the root. A kubelet's root is the caller's to refuse first
   * ({@link #refuseKubelet}), before it makes the state directory this lock lives in.
   *
   * @throws IllegalStateException another agent serves the root
   * @throws IOException           the lock file cannot be made (the message names it)
   */
  public static RootLock acquire(Path rootDir, Path stateDir) throws IOException {
    Path file = stateDir.resolve(FILE).toAbsolutePath().normalize();
    if (!HELD.add(file)) {
      throw new IllegalStateException("another csi-node-agent (pid " + ProcessHandle.current().pid() + ", this process) serves "
          + "the root directory " + rootDir + " (it holds " + file + "); stop it first or give another --root-dir");
    }
    try {
      return lock(rootDir, file);
    } catch (IOException | RuntimeException e) {
      HELD.remove(file);
      throw e;
    }
  }

  private static RootLock lock(Path rootDir, Path file) throws IOException {
    if (Files.isSymbolicLink(file)) {
      throw new IOException("the lock file " + file + " is a symbolic link; remove it (the agent does not follow links below its root)");
    }
    // Private like everything in the state directory (made 0600, narrowed if an older file was wider).
    FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE,
        LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    FileLock lock;
    try {
      lock = ch.tryLock();
    } catch (OverlappingFileLockException sameProcess) {
      lock = null;
    } catch (IOException e) {
      ch.close();
      throw new IOException("cannot lock " + file + ": " + e.getMessage(), e);
    }
    if (lock == null) {
      String holder = holder(ch);
      ch.close();
      throw new IllegalStateException("another csi-node-agent" + holder + " serves the root directory " + rootDir
          + " (it holds " + file + "); stop it first or give another --root-dir");
    }
    ch.truncate(0);
    ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII)), 0);
    return new RootLock(ch, lock, file);
  }

  private static String holder(FileChannel ch) {
    try {
      ByteBuffer buf = ByteBuffer.allocate(32);
      ch.read(buf, 0);
      String pid = new String(buf.array(), 0, buf.position(), StandardCharsets.US_ASCII).strip();
      return pid.matches("\\d{1,10}") ? " (pid " + pid + ")" : "";
    } catch (IOException e) {
      return "";
    }
  }

  /** Lets the root go: the agent stopped (or, in a simulation, its process would have died). */
  @Override
  public void close() {
    HELD.remove(file);
    try {
      if (lock.isValid()) {
        lock.release();
      }
      channel.close();
    } catch (IOException e) {
      // closing the channel releases the lock whatever happened to the release
    }
  }
}
