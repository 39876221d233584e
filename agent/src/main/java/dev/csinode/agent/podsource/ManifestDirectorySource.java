package dev.csinode.agent.podsource;

import dev.csinode.agent.util.LogOnce;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A static-pod-path-like source: every {@code *.yaml}, {@code *.yml} and {@code *.json} file in a directory,
 * read at start and again whenever a file is added, edited or removed. Each change delivers a complete new
 * {@link ClusterObjects} on the given context. Hidden files (editors' temp files) are ignored.
 */
public final class ManifestDirectorySource implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ManifestDirectorySource.class);
  private final Path dir;
  private final Context context;
  private final Handler<ClusterObjects> listener;
  private final Map<Path, ManifestParser.Result> files = new TreeMap<>();
  /** A file's errors are logged when they appear or change, not at every change of the directory. */
  private final LogOnce errorLog = new LogOnce((file, errors) -> LOG.warn("manifest: {}", errors));
  private WatchService watch;
  private Thread thread;

  public ManifestDirectorySource(Path dir, Context context, Handler<ClusterObjects> listener) {
    this.dir = dir.toAbsolutePath().normalize();
    this.context = context;
    this.listener = listener;
  }

  public synchronized void start() throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("pod manifests directory " + dir + " does not exist");
    }
    watch = FileSystems.getDefault().newWatchService();
    dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
    try (Stream<Path> list = Files.list(dir)) {
      list.filter(ManifestDirectorySource::isManifest).forEach(this::read);
    }
    publish();
    thread = new Thread(this::loop, "manifest-watcher");
    thread.setDaemon(true);
    thread.start();
    LOG.info("reading pod manifests from {} ({} files)", dir, files.size());
  }

  static boolean isManifest(Path f) {
    String n = f.getFileName().toString();
    return !n.startsWith(".") && (n.endsWith(".yaml") || n.endsWith(".yml") || n.endsWith(".json")) && Files.isRegularFile(f);
  }

  private void loop() {
    while (true) {
      WatchKey key;
      try {
        key = watch.take();
      } catch (InterruptedException | ClosedWatchServiceException e) {
        return;
      }
      try {
        changed(key);
      } catch (RuntimeException e) {
        // Whatever one change did, the watcher goes on: else no later edit would ever be seen.
        synchronized (this) {
          errorLog.log("watcher", "handling a change in " + dir + " failed: " + e);
        }
        key.reset();
      }
    }
  }

  private synchronized void changed(WatchKey key) {
    for (WatchEvent<?> e : key.pollEvents()) {
      if (e.kind() == StandardWatchEventKinds.OVERFLOW) {
        rescan();
        continue;
      }
      Path f = dir.resolve((Path) e.context());
      if (isManifest(f)) {
        read(f);
      } else {
        files.remove(f);
      }
    }
    key.reset();
    publish();
  }

  /**
   * Reads a file again. One that cannot be read or parsed to its end, or is empty, is most often one being written
   * (an editor truncates, then writes): its objects of the last good version stay, with an error saying so, because
   * dropping them would delete its claims (and, with reclaimPolicy Delete, their volumes) and its pods. Removing
   * the file is what deletes its objects.
   */
  private void read(Path f) {
    ManifestParser.Result fresh = ManifestParser.parse(f);
    ManifestParser.Result last = files.get(f);
    if (!fresh.whole() && last != null && !last.objects().isEmpty()) {
      List<String> errors = new ArrayList<>(fresh.errors());
      errors.add(f + ": " + (fresh.errors().isEmpty() ? "is empty" : "cannot be read whole") + "; keeping the "
          + last.objects().size() + " object(s) of its last good version until it is fixed or removed");
      fresh = new ManifestParser.Result(f, last.objects(), List.copyOf(errors), false);
    }
    files.put(f, fresh);
  }

  private void rescan() {
    Map<Path, ManifestParser.Result> before = new TreeMap<>(files);
    files.clear();
    try (Stream<Path> list = Files.list(dir)) {
      list.filter(ManifestDirectorySource::isManifest).forEach(f -> {
        if (before.containsKey(f)) {
          files.put(f, before.get(f));
        }
        read(f);
      });
    } catch (IOException e) {
      LOG.warn("cannot list {}: {}", dir, e.getMessage());
    }
  }

  private void publish() {
    List<HasMetadata> objects = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    files.values().forEach(r -> {
      r.objects().forEach(o -> objects.add(assignUidIfMissing(o)));
      errors.addAll(r.errors());
      if (r.errors().isEmpty()) {
        errorLog.resolved(r.file().toString());
      } else {
        errorLog.log(r.file().toString(), String.join("; ", r.errors()));
      }
    });
    errorLog.retain(k -> k.equals("watcher") || files.containsKey(Path.of(k)));
    ClusterObjects snapshot = ClusterObjects.of(objects, errors);
    context.runOnContext(v -> listener.handle(snapshot));
  }

  /**
   * Gives a pod without a uid (pods written by hand rarely carry one) one derived from its namespace and name, as
   * the kubelet does for static pods, so its directories stay the same across edits and restarts. Sets it in place: only for objects just parsed, which nothing
   * else holds yet (copying a pod through its builder cost more than parsing it).
   */
  static HasMetadata assignUidIfMissing(HasMetadata o) {
    if (o instanceof Pod p && (p.getMetadata().getUid() == null || p.getMetadata().getUid().isEmpty())) {
      p.getMetadata().setUid(UUID.nameUUIDFromBytes(("static-pod/" + ClusterObjects.key(p))
          .getBytes(StandardCharsets.UTF_8)).toString());
    }
    return o;
  }

  /** Lines logged about bad files: one per file when its errors appear or change, not one per error per change. */
  public synchronized long problemLines() {
    return errorLog.lines();
  }

  @Override
  public void close() {
    try {
      if (watch != null) {
        watch.close();
      }
    } catch (IOException e) {
      LOG.debug("closing watch: {}", e.getMessage());
    }
  }
}
