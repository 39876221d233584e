package dev.csinode.util;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations in Go's notation, as the kubelet's and the CSI sidecars' flags write them: 500ms, 10s, 2m2s, 1h. */
public final class GoDuration {
  private static final Pattern PART = Pattern.compile("(\\d+)(ms|s|m|h)");

  private GoDuration() {}

  /**
   * The duration the text names; an {@link IllegalArgumentException} quoting it when it names none, also when it is
   * too large for a Duration (callers check their own, smaller bounds): the parse errors of numbers and of Duration's
   * arithmetic would otherwise escape the IllegalArgumentException every caller handles.
   */
  public static Duration parse(String s) {
    String text = s == null ? "" : s.trim();
    Matcher m = PART.matcher(text);
    Duration total = Duration.ZERO;
    int end = 0;
    try {
      while (m.find() && m.start() == end) {
        long n = Long.parseLong(m.group(1));
        total = total.plus(switch (m.group(2)) {
          case "ms" -> Duration.ofMillis(n);
          case "s" -> Duration.ofSeconds(n);
          case "m" -> Duration.ofMinutes(n);
          default -> Duration.ofHours(n);
        });
        end = m.end();
      }
    } catch (NumberFormatException | ArithmeticException tooLarge) {
      throw new IllegalArgumentException("'" + s + "' is too large a duration; use e.g. 500ms, 1s, 2m or 2m2s", tooLarge);
    }
    if (text.isEmpty() || end != text.length()) {
      throw new IllegalArgumentException("'" + s + "' is not a duration; use e.g. 500ms, 1s, 2m or 2m2s");
    }
    return total;
  }

  /** The duration in the notation {@link #parse} reads, largest units first: 2m2s, 500ms, 1h0m30s, 0s. */
  public static String format(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("negative duration " + d);
    }
    long ms = d.toMillis();
    if (ms == 0) {
      return "0s";
    }
    StringBuilder b = new StringBuilder();
    long h = ms / 3_600_000;
    long m = ms / 60_000 % 60;
    long sec = ms / 1000 % 60;
    long rest = ms % 1000;
    if (h > 0) {
      b.append(h).append('h');
    }
    if (h > 0 || m > 0) {
      b.append(m).append('m');
    }
    if (h > 0 || m > 0 || sec > 0) {
      b.append(sec).append('s');
    }
    if (rest > 0) {
      b.append(rest).append("ms");
    }
    return b.toString();
  }
}
