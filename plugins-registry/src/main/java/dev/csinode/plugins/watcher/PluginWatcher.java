package dev.csinode.plugins.watcher;

import dev.csinode.grpc.SocketFiles;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches {@code <root>/plugins_registry} for registration sockets, as the kubelet's plugin watcher does:
 * an initial scan, then inotify events (through {@link WatchService}), subdirectories included; names
 * starting with '.' and files that are not sockets are ignored. On top of the kubelet, a periodic rescan
 * compares every socket's identity, so a socket re-created between two events is still seen as new, and a
 * lost event (queue overflow) costs at most one rescan period.
 *
 * <p>Changes are delivered on the given Vert.x context as {@code added} (new or re-created socket) and
 * {@code removed}; the blocking watch loop runs on its own thread.
 */
public final class PluginWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PluginWatcher.class);

  private final Path dir;
  private final Context context;
  private final Handler<PluginSocket> added;
  private final Handler<Path> removed;
  private final Map<Path, PluginSocket> known = new HashMap<>();
  private final Map<WatchKey, Path> keys = new HashMap<>();
  private WatchService watchService;
  private Thread thread;
  private volatile boolean closed;

  public PluginWatcher(Path dir, Context context, Handler<PluginSocket> added, Handler<Path> removed) {
    this.dir = dir.toAbsolutePath().normalize();
    this.context = context;
    this.added = added;
    this.removed = removed;
  }

  public Path dir() {
    return dir;
  }

  /** Creates the directory (0750) if missing, scans it, and starts watching. */
  public synchronized void start() throws IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
    }
    watchService = FileSystems.getDefault().newWatchService();
    rescan();
    thread = new Thread(this::loop, "plugin-watcher");
    thread.setDaemon(true);
    thread.start();
    LOG.info("watching {} for plugin registration sockets", dir);
  }

  /** Walks the whole tree, registers watches on new directories and reports every difference. */
  public synchronized void rescan() {
    Set<Path> seen = new HashSet<>();
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
          if (!d.equals(dir) && hidden(d)) {
            return FileVisitResult.SKIP_SUBTREE;
          }
          watch(d);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
          if (!hidden(f) && attrs.isOther() && SocketFiles.isSocket(f)) {
            seen.add(f);
            observe(f);
          }
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult visitFileFailed(Path f, IOException e) {
          return FileVisitResult.CONTINUE; // it vanished while we walked: the next event or scan settles it
        }
      });
    } catch (IOException e) {
      LOG.warn("cannot scan {}: {}", dir, e.getMessage());
    }
    for (Path gone : new HashSet<>(known.keySet())) {
      if (!seen.contains(gone)) {
        forget(gone);
      }
    }
  }

  private void watch(Path d) {
    if (keys.containsValue(d)) {
      return;
    }
    try {
      keys.put(d.register(watchService, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_DELETE), d);
    } catch (IOException | ClosedWatchServiceException e) {
      LOG.warn("cannot watch {}: {}", d, e.getMessage());
    }
  }

  /** Reports the socket if it is new or was re-created since it was last seen. */
  private void observe(Path f) {
    String identity = identity(f);
    if (identity == null) {
      return;
    }
    PluginSocket old = known.get(f);
    if (old != null && old.identity().equals(identity)) {
      return;
    }
    PluginSocket s = new PluginSocket(f, identity, UUID.randomUUID(), System.currentTimeMillis());
    known.put(f, s);
    context.runOnContext(v -> added.handle(s));
  }

  private void forget(Path f) {
    if (known.remove(f) != null) {
      context.runOnContext(v -> removed.handle(f));
    }
  }

  private static boolean hidden(Path p) {
    return p.getFileName() != null && p.getFileName().toString().startsWith(".");
  }

  /**
   * The inode, not the change time: plugins chmod their socket right after binding it, which changes ctime
   * but not the socket. A replaced socket shows up as a delete event (always a new instance, even if the
   * kernel reuses the inode) or, when events were lost, as a new inode at the next rescan.
   */
  private static String identity(Path f) {
    try {
      Map<String, Object> a = Files.readAttributes(f, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
      return a.get("dev") + ":" + a.get("ino");
    } catch (IOException e) {
      return null;
    }
  }

  private void loop() {
    while (!closed) {
      WatchKey key;
      try {
        key = watchService.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      synchronized (this) {
        Path d = keys.get(key);
        for (WatchEvent<?> event : key.pollEvents()) {
          if (event.kind() == StandardWatchEventKinds.OVERFLOW || d == null) {
            rescan();
            continue;
          }
          Path f = d.resolve((Path) event.context());
          if (hidden(f)) {
            continue;
          }
          if (event.kind() == StandardWatchEventKinds.ENTRY_CREATE) {
            if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
              rescan();
            } else if (SocketFiles.isSocket(f)) {
              observe(f);
            }
          } else if (event.kind() == StandardWatchEventKinds.ENTRY_DELETE) {
            forget(f);
            known.keySet().stream().filter(p -> p.startsWith(f)).toList().forEach(this::forget);
            if (SocketFiles.isSocket(f)) {
              observe(f); // deleted and re-created before we looked: a new instance
            }
          }
        }
        if (!key.reset()) {
          keys.remove(key);
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    try {
      if (watchService != null) {
        watchService.close();
      }
    } catch (IOException e) {
      LOG.debug("closing watch service: {}", e.getMessage());
    }
    if (thread != null) {
      thread.interrupt();
    }
  }
}
