package dev.csinode.simulator.proxy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.Arrays;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reloads a running proxy's rules when its rules file changes. Watches the file's directory, not the file: editors
 * replace files by renaming, and a ConfigMap volume swaps a symlink, so any event there means "look again"; the file
 * is reloaded when its bytes differ from the last ones read. A file that does not load is refused with a log line and
 * the rules in force stay. Rules carried over keep their counts ({@link FaultRules#replacedBy}).
 */
public final class RulesFileWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(RulesFileWatcher.class);

  private final Path file;
  private final FaultProxy proxy;
  private final Consumer<Reload> listener;
  private final WatchService watch;
  private final Thread thread;
  private byte[] lastRead;

  /** What a change of the file led to: the rules now in force, or why the new file was refused (rules unchanged). */
  public record Reload(FaultRules rules, InvalidRulesException refused) {}

  private RulesFileWatcher(Path file, FaultProxy proxy, Consumer<Reload> listener, byte[] current) throws IOException {
    this.file = file;
    this.proxy = proxy;
    this.listener = listener;
    this.lastRead = current;
    this.watch = file.getFileSystem().newWatchService();
    Path dir = file.getParent();
    dir.register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
        StandardWatchEventKinds.ENTRY_DELETE);
    this.thread = new Thread(this::loop, "fault-rules-watch");
    this.thread.setDaemon(true);
  }

  /**
   * Watches {@code file}, whose current contents the proxy's rules came from; {@code listener} hears of each
   * reload or refusal (on the watching thread).
   */
  public static RulesFileWatcher start(Path file, FaultProxy proxy, Consumer<Reload> listener) throws IOException {
    Path abs = file.toAbsolutePath().normalize();
    RulesFileWatcher w = new RulesFileWatcher(abs, proxy, listener, readOrNull(abs));
    w.thread.start();
    return w;
  }

  private void loop() {
    try {
      while (true) {
        WatchKey key = watch.take();
        key.pollEvents();
        key.reset();
        reloadIfChanged();
      }
    } catch (InterruptedException | ClosedWatchServiceException stopped) {
      // closed
    }
  }

  private void reloadIfChanged() {
    byte[] now = readOrNull(file);
    if (now == null || Arrays.equals(now, lastRead)) {
      return; // gone for a moment (an editor's rename) or unchanged: keep the rules
    }
    lastRead = now;
    try {
      FaultRules next = proxy.rules().replacedBy(RulesFile.parse(new String(now, StandardCharsets.UTF_8),
          file.toString()));
      proxy.rules(next);
      LOG.info("rules reloaded from {}: {}", file, next);
      listener.accept(new Reload(next, null));
    } catch (InvalidRulesException e) {
      LOG.warn("refused the changed rules file, keeping {}: {}", proxy.rules(), e.getMessage());
      listener.accept(new Reload(proxy.rules(), e));
    }
  }

  private static byte[] readOrNull(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (IOException e) {
      return null;
    }
  }

  @Override
  public void close() {
    try {
      watch.close();
    } catch (IOException e) {
      LOG.debug("closing the watch of {}: {}", file, e.toString());
    }
    thread.interrupt();
  }
}
