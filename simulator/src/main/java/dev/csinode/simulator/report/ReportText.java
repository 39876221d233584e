package dev.csinode.simulator.report;

import dev.csinode.logging.ControlCharacters;
import dev.csinode.simulator.trace.CsiCall;

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
    return decimal(micros, 3);
  }

  /** A run's duration in seconds, to the millisecond. */
  static String seconds(long millis) {
    return decimal(millis, 3);
  }

  /**
   * {@code units / 10^scale} with {@code scale} decimals, e.g. (12345, 3) gives 12.345. Written out by hand: a large
   * trace formats hundreds of thousands of numbers, and {@link String#format} would be most of the report's time.
   */
  static String decimal(long units, int scale) {
    long factor = 1;
    for (int i = 0; i < scale; i++) {
      factor *= 10;
    }
    long abs = Math.abs(units);
    String fraction = Long.toString(abs % factor);
    StringBuilder b = new StringBuilder(24);
    if (units < 0) {
      b.append('-');
    }
    b.append(abs / factor).append('.');
    for (int i = fraction.length(); i < scale; i++) {
      b.append('0');
    }
    return b.append(fraction).toString();
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
