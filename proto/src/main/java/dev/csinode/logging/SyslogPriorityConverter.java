package dev.csinode.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/**
 * The {@code <N>} prefix journald reads from a service's stderr (sd-daemon(3)): the syslog priority of the event's
 * level, so that {@code journalctl -p warning} and the colours keep the agent's levels.
 */
public final class SyslogPriorityConverter extends ClassicConverter {
  @Override
  public String convert(ILoggingEvent event) {
    return prefix(event.getLevel());
  }

  /** The {@code <N>} prefix of a line at this level. */
  static String prefix(Level level) {
    return "<" + priority(level) + ">";
  }

  static int priority(Level level) {
    return switch (level.toInt()) {
      case Level.ERROR_INT -> 3; // err
      case Level.WARN_INT -> 4; // warning
      case Level.INFO_INT -> 6; // info
      default -> 7; // debug, trace
    };
  }
}
