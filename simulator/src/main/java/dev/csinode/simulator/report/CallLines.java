package dev.csinode.simulator.report;

import dev.csinode.simulator.report.TextTable.Align;
import dev.csinode.simulator.trace.CsiCall;
import java.util.List;

/**
 * The calls around a violation, one aligned line each (sequence, method, volume, code, fault, when), as the terminal
 * summary, the JUnit failure and the HTML report show them.
 */
final class CallLines {
  /** A driver's message is shown cut to this many characters: the HTML report's tooltip has it whole. */
  static final int MESSAGE_SHOWN = 120;

  private CallLines() {}

  static List<String> of(List<CsiCall> calls) {
    TextTable table = new TextTable(Align.RIGHT, Align.LEFT, Align.LEFT, Align.LEFT, Align.LEFT, Align.LEFT, Align.LEFT);
    for (CsiCall c : calls) {
      table.row("#" + c.seq(), ReportText.text(ReportText.method(c)), ReportText.textOr(c.volumeId(), "-"),
          ReportText.code(c), c.fault() == null ? "-" : "fault=" + ReportText.text(c.fault()), ReportText.span(c),
          message(c.message()));
    }
    return table.lines();
  }

  private static String message(String message) {
    if (message == null || message.isEmpty()) {
      return "";
    }
    String shown = message.codePointCount(0, message.length()) > MESSAGE_SHOWN
        ? message.substring(0, message.offsetByCodePoints(0, MESSAGE_SHOWN)) + "..." : message;
    return "\"" + ReportText.text(shown) + "\"";
  }
}
