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
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
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
  private final WatchService watch;
  private final Thread thread;
  /** The proxy and listener changes go to, once {@link #start}ed; the watching thread waits for them. */
  private final CompletableFuture<Target> target = new CompletableFuture<>();
  private byte[] lastRead;

  /** What a change of the file led to: the rules now in force, or why the new file was refused (rules unchanged). */
  public record Reload(FaultRules rules, InvalidRulesException refused) {}

  private record Target(FaultProxy proxy, Consumer<Reload> listener) {}

  private RulesFileWatcher(Path file, byte[] current) throws IOException {
    this.file = file;
    this.lastRead = current;
    this.watch = file.getFileSystem().newWatchService();
    try {
      file.getParent().register(watch, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
          StandardWatchEventKinds.ENTRY_DELETE);
    } catch (IOException | RuntimeException e) {
      watch.close();
      throw e;
    }
    this.thread = new Thread(this::loop, "fault-rules-watch");
    this.thread.setDaemon(true);
  }

  /**
   * Watches {@code file}, whose current contents the proxy's rules came from; {@code listener} hears of each
   * reload or refusal (on the watching thread).
   */
  public static RulesFileWatcher start(Path file, FaultProxy proxy, Consumer<Reload> listener) throws IOException {
    return open(file).start(proxy, listener);
  }

  /**
   * Sets up the watch of {@code file} and its thread: all that can fail (inotify instances are few, 128 per user by
   * default and shared by all of the user's processes; a thread may not be had). A proxy command opens it before its
   * proxy serves, so a failure here never withdraws a socket a client already saw served. Changes from now on are
   * applied once {@link #start}ed.
   */
  public static RulesFileWatcher open(Path file) throws IOException {
    Path abs = file.toAbsolutePath().normalize();
    RulesFileWatcher w = new RulesFileWatcher(abs, readOrNull(abs));
    try {
      w.thread.start();
    } catch (Throwable e) { // OutOfMemoryError: unable to create native thread
      w.watch.close();
      throw e;
    }
    return w;
  }

  /** Applies changes of the file to {@code proxy} from now on, including those since {@link #open}; once. */
  public RulesFileWatcher start(FaultProxy proxy, Consumer<Reload> listener) {
    if (!target.complete(new Target(Objects.requireNonNull(proxy, "proxy"), Objects.requireNonNull(listener, "listener")))) {
      throw new IllegalStateException("the watch of " + file + " is already started");
    }
    return this;
  }

  private void loop() {
    try {
      Target t = target.get();
      while (true) {
        WatchKey key = watch.take();
        key.pollEvents();
        key.reset();
        reloadIfChanged(t.proxy(), t.listener());
      }
    } catch (InterruptedException | ClosedWatchServiceException stopped) {
      // closed
    } catch (ExecutionException never) {
      throw new IllegalStateException(never); // the target is only ever completed with a value
    }
  }

  private void reloadIfChanged(FaultProxy proxy, Consumer<Reload> listener) {
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
