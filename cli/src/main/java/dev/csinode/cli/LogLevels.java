package dev.csinode.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.LoggerFactory;

/**
 * Sets logback's levels from a config file's {@code log-level} and {@code log-levels}, and puts back what
 * the log set-up (NodeLogConfigurator) gave a logger when the file stops naming it.
 */
final class LogLevels {
  /** Each logger's level before the config file first set it (null: it inherited). */
  private static final Map<String, Holder> ORIGINAL = new ConcurrentHashMap<>();

  private record Holder(Level level) {}

  private LogLevels() {}

  static void apply(Map<String, String> levels) {
    levels.forEach(LogLevels::set);
  }

  /** Sets the logger ({@link ConfigFile#ROOT_LOGGER} for the root) to the level; null restores its original one. */
  static void set(String name, String level) {
    if (LoggerFactory.getLogger(loggerName(name)) instanceof Logger l) {
      Holder original = ORIGINAL.computeIfAbsent(name, n -> new Holder(l.getLevel()));
      l.setLevel(level != null ? Level.toLevel(level) : original.level());
    }
  }

  private static String loggerName(String name) {
    return name.equals(ConfigFile.ROOT_LOGGER) ? org.slf4j.Logger.ROOT_LOGGER_NAME : name;
  }
}
