package dev.csinode.logging;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * How the processes write their log lines on stderr: {@code text} for a terminal (time, level, logger, message),
 * {@code journal} under systemd (a {@code <N>} priority prefix journald turns into the level, no time: journald keeps
 * its own), {@code json} for log shippers (logback's JSON encoder, one object per line).
 */
public enum LogFormat {
  TEXT, JOURNAL, JSON;

  /** The system property that asks for a format ({@code text} or {@code json}); the launcher's {@code --log-format}. */
  public static final String PROPERTY = "csi.log.format";
  private static volatile LogFormat chosen;

  /** The format in force: one set by {@link #use}, else the property's, else journal under systemd, else text. */
  public static LogFormat current() {
    LogFormat f = chosen;
    if (f == null) {
      f = fromEnvironment(System.getProperty(PROPERTY), System.getenv());
      chosen = f;
    }
    return f;
  }

  /** Switches the format from now on (a command's {@code --log-format}). */
  public static void use(LogFormat format) {
    chosen = format;
  }

  /** The format's name as flags write it. */
  public String text() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** {@code text} or {@code json}; an IllegalArgumentException naming the choices otherwise. */
  public static LogFormat parse(String text) {
    return switch (text == null ? "" : text) {
      case "text" -> TEXT;
      case "json" -> JSON;
      default -> throw new IllegalArgumentException("log format '" + text + "' is not one of text, json");
    };
  }

  static LogFormat fromEnvironment(String property, Map<String, String> env) {
    if (property != null && !property.isEmpty()) {
      try {
        return parse(property);
      } catch (IllegalArgumentException e) {
        return TEXT;
      }
    }
    return journalIsStderr(env.get("JOURNAL_STREAM")) ? JOURNAL : TEXT;
  }

  /**
   * Whether stderr is the stream systemd connected to the journal: {@code JOURNAL_STREAM} is {@code DEVICE:INODE} of
   * it, and a child whose stderr was redirected elsewhere inherits the variable but not the stream (systemd.exec(5)).
   */
  static boolean journalIsStderr(String journalStream) {
    if (journalStream == null || !journalStream.matches("\\d+:\\d+")) {
      return false;
    }
    try {
      Path stderr = Path.of("/proc/self/fd/2");
      Object dev = Files.getAttribute(stderr, "unix:dev");
      Object ino = Files.getAttribute(stderr, "unix:ino");
      return journalStream.equals(dev + ":" + ino);
    } catch (Exception e) {
      return false;
    }
  }
}
