package dev.csinode.simulator.report;

import dev.csinode.simulator.invariants.Violation;
import dev.csinode.simulator.report.TextTable.Align;
import java.util.List;
import java.util.Map;

/**
 * What {@code simulate} prints when it is done: a table of the scenarios, the failed checks with the calls around
 * each violation, the figures of each scenario and a verdict. The same results give the same text (durations are
 * the only times in it), so a CI log can be compared with the last one.
 */
public final class TerminalSummary {
  /** Violations shown per check; the JUnit and HTML reports have them all. */
  static final int VIOLATIONS_SHOWN = 10;

  private static final String GREEN = "\u001b[32m";
  private static final String RED = "\u001b[31m";
  private static final String BOLD = "\u001b[1m";
  private static final String RESET = "\u001b[0m";

  private TerminalSummary() {}

  public static String render(List<ScenarioResult> results, boolean color) {
    StringBuilder out = new StringBuilder();
    table(results, color, out);
    failures(results, out);
    figures(results, out);
    out.append('\n').append(verdict(results, color)).append('\n');
    return out.toString();
  }

  private static void table(List<ScenarioResult> results, boolean color, StringBuilder out) {
    TextTable table = new TextTable(Align.LEFT, Align.RIGHT, Align.RIGHT, Align.RIGHT, Align.RIGHT, Align.LEFT);
    table.row("SCENARIO", "STEPS", "CHECKS", "VIOLATIONS", "TIME", "RESULT");
    for (ScenarioResult r : results) {
      long passed = r.checks().stream().filter(Check::passed).count();
      // The result is the last column, so colouring it cannot shift the others.
      table.row(ReportText.text(r.scenario()), String.valueOf(r.steps()), passed + "/" + r.checks().size(),
          String.valueOf(violations(r)), ReportText.seconds(r.durationMillis()) + " s", result(r, color));
    }
    table.lines().forEach(line -> out.append(line).append('\n'));
  }

  private static void failures(List<ScenarioResult> results, StringBuilder out) {
    if (results.stream().allMatch(ScenarioResult::passed)) {
      return;
    }
    out.append("\nFailed checks\n");
    for (ScenarioResult r : results) {
      String scenario = ReportText.text(r.scenario());
      if (r.error() != null) {
        out.append(scenario).append(": scenario error\n  ").append(ReportText.text(r.error())).append('\n');
      }
      for (Check c : r.checks()) {
        if (c.passed()) {
          continue;
        }
        out.append(scenario).append(": ").append(ReportText.text(c.name())).append('\n');
        if (c.failure() != null) {
          out.append("  ").append(ReportText.text(c.failure())).append('\n');
        }
        List<Violation> shown = c.violations().subList(0, Math.min(VIOLATIONS_SHOWN, c.violations().size()));
        for (Violation v : shown) {
          out.append("  ").append(violation(v)).append('\n');
          CallLines.of(v.around()).forEach(line -> out.append("    ").append(line).append('\n'));
        }
        int more = c.violations().size() - shown.size();
        if (more > 0) {
          out.append("  ... ").append(ReportText.plural(more, "more violation", "more violations"))
              .append(" (all in the JUnit and HTML reports)\n");
        }
      }
    }
  }

  /** {@code rule on volume V: message}, one line. */
  static String violation(Violation v) {
    String on = v.volumeId() == null ? "" : " on volume " + ReportText.text(v.volumeId());
    return ReportText.text(v.rule()) + on + ": " + ReportText.text(v.message());
  }

  private static void figures(List<ScenarioResult> results, StringBuilder out) {
    if (results.stream().allMatch(r -> r.figures().isEmpty())) {
      return;
    }
    out.append("\nFigures\n");
    for (ScenarioResult r : results) {
      if (r.figures().isEmpty()) {
        continue;
      }
      out.append(ReportText.text(r.scenario())).append('\n');
      TextTable table = new TextTable(Align.LEFT, Align.RIGHT);
      for (Map.Entry<String, String> f : r.figures().entrySet()) {
        table.row(ReportText.text(f.getKey()), ReportText.text(f.getValue()));
      }
      table.lines().forEach(line -> out.append("  ").append(line).append('\n'));
    }
  }

  private static String verdict(List<ScenarioResult> results, boolean color) {
    long failed = results.stream().filter(r -> !r.passed()).count();
    long checks = results.stream().mapToLong(r -> r.checks().size()).sum();
    long failedChecks = results.stream().flatMap(r -> r.checks().stream()).filter(c -> !c.passed()).count();
    long violations = results.stream().mapToLong(TerminalSummary::violations).sum();
    long errors = results.stream().filter(r -> r.error() != null).count();
    String verdict;
    if (failed == 0) {
      verdict = "PASS: " + ReportText.plural(results.size(), "scenario", "scenarios") + ", "
          + ReportText.plural(checks, "check", "checks") + ", no violations";
    } else {
      verdict = "FAIL: " + failed + " of " + ReportText.plural(results.size(), "scenario", "scenarios") + " failed ("
          + ReportText.plural(failedChecks, "check", "checks") + " failed, "
          + ReportText.plural(violations, "violation", "violations") + ", "
          + ReportText.plural(errors, "scenario error", "scenario errors") + ")";
    }
    return color ? BOLD + (failed == 0 ? GREEN : RED) + verdict + RESET : verdict;
  }

  private static String result(ScenarioResult r, boolean color) {
    String result = r.error() != null ? "ERROR" : r.passed() ? "PASS" : "FAIL";
    return color ? (r.passed() ? GREEN : RED) + result + RESET : result;
  }

  static long violations(ScenarioResult r) {
    return r.checks().stream().mapToLong(c -> c.violations().size()).sum();
  }
}
