package dev.csinode.simulator.report;

import java.util.List;

/** Stand-in (engine branch) for the reports helper's TerminalSummary; the merge takes theirs. */
public final class TerminalSummary {
  private TerminalSummary() {}

  public static String render(List<ScenarioResult> results, boolean color) {
    throw new UnsupportedOperationException("to be written");
  }
}
