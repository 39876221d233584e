package dev.csinode.simulator.scenario;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/** Latencies of one batch or churn, in milliseconds; percentiles by nearest rank. Thread-safe. */
final class Latencies {
  private final List<Long> millis = new ArrayList<>();

  synchronized void add(long ms) {
    millis.add(ms);
  }

  synchronized int count() {
    return millis.size();
  }

  /** The p-th percentile (0 < p ≤ 100) by nearest rank; -1 when empty. */
  synchronized long percentile(double p) {
    if (millis.isEmpty()) {
      return -1;
    }
    List<Long> sorted = new ArrayList<>(millis);
    Collections.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.min(sorted.size(), Math.max(1, rank)) - 1);
  }

  static String ms(long ms) {
    return ms < 0 ? "-" : ms + " ms";
  }

  static String rate(double perSecond) {
    return String.format(Locale.ROOT, "%.1f pods/s", perSecond);
  }
}
