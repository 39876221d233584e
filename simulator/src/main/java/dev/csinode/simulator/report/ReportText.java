package dev.csinode.simulator.report;

import dev.csinode.logging.ControlCharacters;
import dev.csinode.simulator.trace.CsiCall;
import java.util.Locale;

/**
 * How the reports write text and times. Everything a driver, a scenario file or a path supplies is hostile input: a
 * driver's error message can hold a newline that starts a line of its own, an ESC that reaches the terminal or a bidi
 * override, so it goes through {@link #text} before any report shows it.
 */
final class ReportText {
  private ReportText() {}

  /** Outside text with its control characters escaped; "" for null. */
  static String text(String s) {
    return s == null ? "" : ControlCharacters.escape(s);
  }

  /** Outside text, or {@code missing} when there is none. */
  static String textOr(String s, String missing) {
    return s == null || s.isEmpty() ? missing : text(s);
  }

  /** A trace time (microseconds) in milliseconds, to the microsecond. */
  static String millis(long micros) {
    return String.format(Locale.ROOT, "%.3f", micros / 1000.0);
  }

  /** A run's duration in seconds, to the millisecond. */
  static String seconds(long millis) {
    return String.format(Locale.ROOT, "%.3f", millis / 1000.0);
  }

  /** When a call ran: {@code 12.000..13.500 ms}, or {@code 12.000.. (in flight)}. */
  static String span(CsiCall call) {
    return call.inFlight() ? millis(call.startMicros()) + ".. (in flight)"
        : millis(call.startMicros()) + ".." + millis(call.endMicros()) + " ms";
  }

  /** The method, marked when the simulator made the call itself to check idempotency. */
  static String method(CsiCall call) {
    return call.probe() ? call.method() + " (probe)" : call.method();
  }

  /** The outcome as the node saw it: the status code's name, or {@code in-flight}. */
  static String code(CsiCall call) {
    return call.code() == null ? "in-flight" : text(call.code());
  }

  static String plural(long n, String one, String many) {
    return n + " " + (n == 1 ? one : many);
  }
}
