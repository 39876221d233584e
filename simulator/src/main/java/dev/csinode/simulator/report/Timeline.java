package dev.csinode.simulator.report;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The HTML report's view of one scenario's trace: a row per volume (in the order each volume was first called, the
 * calls without a volume first), each call a bar placed on a time axis shared by all rows of the scenario. Calls that
 * overlap on one volume go into lanes below each other, so two operations in flight at once stay visible. The axis
 * spans the calls (to the scenario's end when a call never got its answer) and is wider for longer runs, so the bars of
 * a long churn are not all slivers: the page scrolls sideways, the volume labels stay in view.
 *
 * @param end   the axis' end, in ms
 * @param width the axis' width in px
 * @param ticks the axis' labels
 */
record Timeline(String end, int width, List<Tick> ticks, List<Row> rows) {
  /** Height of one lane of a row, in px; the template's CSS gives a bar a little less. */
  static final int LANE_PX = 14;
  /** The axis' width: one px per this many ms, within {@link #MIN_WIDTH_PX} and {@link #MAX_WIDTH_PX}. */
  static final int MS_PER_PX = 5;
  static final int MIN_WIDTH_PX = 1000;
  static final int MAX_WIDTH_PX = 20_000;
  /** About one tick per this many px. */
  static final int PX_PER_TICK = 150;
  /** The row of the calls that name no volume (plugin info, capabilities, probes of the node). */
  static final String NO_VOLUME = "(no volume)";

  /** @param left position in % of the axis */
  record Tick(String left, String label) {}

  /**
   * @param volume the volume id as the data attribute gives it ("" for the row without a volume), escaped
   * @param height in px
   */
  record Row(String volume, String label, String calls, int height, List<Bar> bars) {}

  /**
   * @param outcome one of {@code ok}, {@code error}, {@code fault}, {@code probe}, {@code in-flight}
   * @param probe   the simulator's own repeated call (drawn outlined, whatever its outcome)
   * @param left    start in % of the axis
   * @param width   length in % of the axis (the CSS gives every bar a minimum width)
   * @param top     lane offset in px
   * @param title   the tooltip: method, volume, code, message, paths, fault, when and how long
   */
  record Bar(long seq, String outcome, boolean probe, String left, String width, int top, String title) {}

  /** The timeline of a trace, or null for a trace without calls. */
  static Timeline of(List<CsiCall> calls, long durationMillis) {
    if (calls.isEmpty()) {
      return null;
    }
    long endMicros = 1000;
    boolean inFlight = false;
    for (CsiCall c : calls) {
      endMicros = Math.max(endMicros, Math.max(c.startMicros(), c.endMicros()));
      inFlight |= c.inFlight();
    }
    if (inFlight) {
      // Unanswered when the scenario ended: drawn up to its end, and visibly longer than a call that just started.
      endMicros = Math.max(endMicros + endMicros / 10, durationMillis * 1000);
    }
    Map<String, List<CsiCall>> byVolume = new LinkedHashMap<>();
    byVolume.put(null, new ArrayList<>());
    for (CsiCall c : calls) {
      byVolume.computeIfAbsent(c.volumeId(), v -> new ArrayList<>()).add(c);
    }
    if (byVolume.get(null).isEmpty()) {
      byVolume.remove(null);
    }
    List<Row> rows = new ArrayList<>(byVolume.size());
    for (Map.Entry<String, List<CsiCall>> e : byVolume.entrySet()) {
      rows.add(row(e.getKey(), e.getValue(), endMicros));
    }
    int width = (int) Math.min(MAX_WIDTH_PX, Math.max(MIN_WIDTH_PX, endMicros / 1000 / MS_PER_PX));
    return new Timeline(ReportText.millis(endMicros) + " ms", width, ticks(endMicros, Math.max(4, width / PX_PER_TICK)), rows);
  }

  private static Row row(String volumeId, List<CsiCall> calls, long axisMicros) {
    List<Long> laneEnds = new ArrayList<>();
    List<Bar> bars = new ArrayList<>(calls.size());
    for (CsiCall c : calls) {
      long end = c.inFlight() ? axisMicros : c.endMicros();
      int lane = 0;
      while (lane < laneEnds.size() && laneEnds.get(lane) > c.startMicros()) {
        lane++;
      }
      if (lane == laneEnds.size()) {
        laneEnds.add(end);
      } else {
        laneEnds.set(lane, end);
      }
      bars.add(new Bar(c.seq(), outcome(c), c.probe(), percent(c.startMicros(), axisMicros),
          percent(end - c.startMicros(), axisMicros), lane * LANE_PX, title(c)));
    }
    String label = volumeId == null ? NO_VOLUME : ReportText.text(volumeId);
    return new Row(volumeId == null ? "" : ReportText.text(volumeId), label, ReportText.plural(calls.size(), "call", "calls"),
        Math.max(1, laneEnds.size()) * LANE_PX, bars);
  }

  /**
   * What the bar's colour says, the most telling first: a call without an answer, a call a fault rule changed,
   * a call that failed, the simulator's own probe, a plain OK.
   */
  static String outcome(CsiCall c) {
    if (c.inFlight()) {
      return "in-flight";
    }
    if (c.fault() != null) {
      return "fault";
    }
    if (!c.ok()) {
      return "error";
    }
    return c.probe() ? "probe" : "ok";
  }

  private static String title(CsiCall c) {
    StringBuilder t = new StringBuilder();
    t.append('#').append(c.seq()).append(' ').append(ReportText.text(ReportText.method(c)));
    line(t, "volume", c.volumeId());
    t.append("\ncode: ").append(ReportText.code(c));
    line(t, "message", c.message());
    line(t, "staging", c.stagingPath());
    line(t, "target", c.targetPath());
    line(t, "fault", c.fault());
    if (c.mountedAfter() != null) {
      t.append("\nmounted after: ").append(c.mountedAfter());
    }
    t.append('\n').append(ReportText.span(c));
    if (!c.inFlight()) {
      t.append(" (").append(ReportText.millis(c.endMicros() - c.startMicros())).append(" ms)");
    }
    return t.toString();
  }

  private static void line(StringBuilder t, String name, String value) {
    if (value != null && !value.isEmpty()) {
      t.append('\n').append(name).append(": ").append(ReportText.text(value));
    }
  }

  /** About {@code count} ticks at round steps (1, 2 or 5 times a power of ten ms). */
  static List<Tick> ticks(long axisMicros, int count) {
    double axisMs = axisMicros / 1000.0;
    double raw = axisMs / count;
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double step = magnitude;
    for (double m : new double[] {1, 2, 5, 10}) {
      step = m * magnitude;
      if (step >= raw) {
        break;
      }
    }
    List<Tick> ticks = new ArrayList<>();
    for (int i = 0; i * step <= axisMs + 1e-9; i++) {
      double t = i * step;
      ticks.add(new Tick(percent(t / axisMs), label(t, step)));
    }
    return ticks;
  }

  private static String label(double ms, double step) {
    int decimals = step >= 1 ? 0 : (int) Math.ceil(-Math.log10(step) - 1e-9);
    return String.format(Locale.ROOT, "%." + decimals + "f ms", ms);
  }

  private static String percent(long part, long whole) {
    return percent((double) part / whole);
  }

  private static String percent(double fraction) {
    return ReportText.decimal(Math.round(fraction * 1_000_000), 4);
  }
}
