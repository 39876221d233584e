package dev.csinode.agent.util;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Predicate;

/**
 * Logs a problem per key when it first appears and again only when its message changes: a claim failing every
 * retry, or a bad file read again at every change of the directory, gives one line, not one per evaluation.
 * {@link #resolved} forgets a key (and says so once), so the same problem coming back is logged again.
 * Not thread-safe: each user calls it from one thread or context.
 */
public final class LogOnce {
  private final BiConsumer<String, String> sink;
  private final Map<String, String> current = new HashMap<>();
  private long lines;

  /** @param sink writes one line: {@code (key, message)}; e.g. {@code (k, m) -> LOG.warn("{}", m)} */
  public LogOnce(BiConsumer<String, String> sink) {
    this.sink = sink;
  }

  /** Logs {@code message} for {@code key} unless it is the message last logged for it; true when it logged. */
  public boolean log(String key, String message) {
    if (Objects.equals(current.put(key, message), message)) {
      return false;
    }
    lines++;
    sink.accept(key, message);
    return true;
  }

  /** The key's problem is gone; true when there was one. */
  public boolean resolved(String key) {
    return current.remove(key) != null;
  }

  /** Forgets every key that does not pass (the objects are gone). */
  public void retain(Predicate<String> keep) {
    current.keySet().removeIf(k -> !keep.test(k));
  }

  /** Lines written since construction. */
  public long lines() {
    return lines;
  }

  /** Keys with a problem logged and not resolved. */
  public int size() {
    return current.size();
  }
}
