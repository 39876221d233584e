package dev.csinode.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import java.util.Map;
import org.slf4j.LoggerFactory;

/** Sets logback's levels from a config file's {@code log-level} and {@code log-levels}. */
final class LogLevels {
  private LogLevels() {}

  static void apply(Map<String, String> levels) {
    levels.forEach((name, level) -> {
      String logger = name.equals(ConfigFile.ROOT_LOGGER) ? org.slf4j.Logger.ROOT_LOGGER_NAME : name;
      if (LoggerFactory.getLogger(logger) instanceof Logger l) {
        l.setLevel(Level.toLevel(level));
      }
    });
  }
}
