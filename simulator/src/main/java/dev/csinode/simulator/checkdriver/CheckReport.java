package dev.csinode.simulator.checkdriver;

import dev.csinode.logging.ControlCharacters;
import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.JUnitReport;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Function;

/**
 * check-driver's output, meant for a driver's CI: the same results give the same text (no times, the work directory
 * written as {@value #WORK}, rows sorted by scenario name). A header with the driver and its capabilities; a matrix of
 * scenario, result and reason; each failed check with its reason and hint; a verdict line. Everything a driver or a
 * scenario said is shown with its control characters escaped.
 */
public final class CheckReport {
  public static final int PASSED = 0;
  public static final int FAILED = 1;
  public static final int ERROR = 2;
  /** Stands for the run's work directory (a temporary one has a random name) in the texts shown. */
  static final String WORK = "$WORK";
  static final String SUITE_NAME = "csi-node-agent check-driver";

  private CheckReport() {}

  /** 0: every scenario run passed (skips allowed); 2: a scenario could not be carried out; 1: a check failed. */
  public static int status(List<CheckDriver.Entry> entries) {
    if (entries.stream().anyMatch(e -> e.verdict() == CheckDriver.Verdict.ERROR)) {
      return ERROR;
    }
    return entries.stream().anyMatch(e -> e.verdict() == CheckDriver.Verdict.FAIL) ? FAILED : PASSED;
  }

  /** The header and what would run and what is skipped and why ({@code --list}). */
  public static String selection(DriverCapabilities driver, Scenario.Suite suite, List<ScenarioSelection.Decision> decisions) {
    StringBuilder out = header(driver, suite);
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"SCENARIO", "SELECTION", "REASON"});
    for (ScenarioSelection.Decision d : sorted(decisions, ScenarioSelection.Decision::name)) {
      rows.add(new String[] {text(d.name()), d.runs() ? "RUN" : "SKIP", d.runs() ? text(d.scenario().description()) : text(d.skipped())});
    }
    table(rows, out);
    long runs = decisions.stream().filter(ScenarioSelection.Decision::runs).count();
    out.append('\n').append(runs).append(" to run, ").append(decisions.size() - runs).append(" skipped\n");
    return out.toString();
  }

  /** The whole report of a run. */
  public static String render(DriverCapabilities driver, Scenario.Suite suite, List<CheckDriver.Entry> entries, Path workDir) {
    StringBuilder out = header(driver, suite);
    List<CheckDriver.Entry> sorted = sorted(entries, e -> e.decision().name());
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"SCENARIO", "RESULT", "REASON"});
    for (CheckDriver.Entry e : sorted) {
      rows.add(new String[] {text(e.decision().name()), e.verdict().name(), reason(e, workDir)});
    }
    table(rows, out);
    failures(sorted, workDir, out);
    out.append('\n').append(verdict(sorted)).append('\n');
    return out.toString();
  }

  /** One test case per scenario: skipped with its reason, failed with each failed check and its hint. */
  public static List<JUnitReport.Case> junit(List<CheckDriver.Entry> entries, Path workDir) {
    List<JUnitReport.Case> cases = new ArrayList<>();
    for (CheckDriver.Entry e : sorted(entries, x -> x.decision().name())) {
      String name = e.decision().name();
      ScenarioResult r = e.result();
      switch (e.verdict()) {
        case SKIP -> cases.add(new JUnitReport.Case(name, 0, e.decision().skipped(), null, null, null));
        case PASS -> cases.add(new JUnitReport.Case(name, r.durationMillis(), null, null, null, null));
        case ERROR -> cases.add(new JUnitReport.Case(name, r.durationMillis(), null, null, details(e, workDir), masked(r.error(), workDir)));
        case FAIL -> cases.add(new JUnitReport.Case(name, r.durationMillis(), null, masked(failedChecks(r), workDir), details(e, workDir), null));
      }
    }
    return cases;
  }

  /** Writes {@link #junit} to the file, replacing it in one step. */
  public static void writeJUnit(List<CheckDriver.Entry> entries, Path workDir, Path file) throws IOException {
    JUnitReport.write(SUITE_NAME, junit(entries, workDir), file);
  }

  private static StringBuilder header(DriverCapabilities driver, Scenario.Suite suite) {
    StringBuilder out = new StringBuilder();
    for (String line : driver.describe()) {
      out.append(text(line)).append('\n');
    }
    out.append("suite: ").append(suite.text()).append("\n\n");
    return out;
  }

  private static String reason(CheckDriver.Entry e, Path workDir) {
    ScenarioResult r = e.result();
    return switch (e.verdict()) {
      case SKIP -> text(e.decision().skipped());
      case PASS -> "";
      case ERROR -> "error: " + text(masked(firstLine(r.error()), workDir));
      case FAIL -> "failed: " + text(failedChecks(r));
    };
  }

  private static String failedChecks(ScenarioResult r) {
    return String.join(", ", r.checks().stream().filter(c -> !c.passed()).map(Check::name).toList());
  }

  private static void failures(List<CheckDriver.Entry> entries, Path workDir, StringBuilder out) {
    boolean any = false;
    for (CheckDriver.Entry e : entries) {
      if (e.verdict() != CheckDriver.Verdict.FAIL && e.verdict() != CheckDriver.Verdict.ERROR) {
        continue;
      }
      if (!any) {
        out.append("\nFailures\n");
        any = true;
      }
      out.append('\n').append(text(e.decision().name())).append('\n');
      for (String line : details(e, workDir).split("\n")) {
        out.append("  ").append(line).append('\n');
      }
    }
  }

  /**
   * The scenario error, if any, and each failed check: its name, its reason (an assertion's, or the first violation
   * and how many more), and the hint. Already escaped; lines separated by \n.
   */
  static String details(CheckDriver.Entry e, Path workDir) {
    ScenarioResult r = e.result();
    Scenario scenario = e.decision().scenario();
    List<String> lines = new ArrayList<>();
    if (r.error() != null) {
      lines.add("scenario error: " + text(masked(r.error(), workDir)));
    }
    for (Check c : r.checks()) {
      if (c.passed()) {
        continue;
      }
      lines.add(text(c.name()));
      lines.add("  " + text(masked(JUnitReport.failureMessage(c), workDir)));
      String hint = Hints.of(scenario, c);
      if (hint != null) {
        lines.add("  hint: " + text(hint));
      }
    }
    if (!scenario.references().isEmpty()) {
      lines.add("references: " + text(String.join(", ", scenario.references())));
    }
    return String.join("\n", lines);
  }

  private static String verdict(List<CheckDriver.Entry> entries) {
    StringBuilder b = new StringBuilder();
    for (CheckDriver.Verdict v : CheckDriver.Verdict.values()) {
      long n = entries.stream().filter(e -> e.verdict() == v).count();
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append(n).append(' ').append(switch (v) {
        case PASS -> "passed";
        case FAIL -> "failed";
        case ERROR -> n == 1 ? "error" : "errors";
        case SKIP -> "skipped";
      });
    }
    int status = status(entries);
    return (status == PASSED ? "PASS" : status == FAILED ? "FAIL" : "ERROR") + ": " + b;
  }

  private static <T> List<T> sorted(List<T> items, Function<T, String> name) {
    List<T> copy = new ArrayList<>(items);
    copy.sort(Comparator.comparing(name));
    return copy;
  }

  /** Rows in aligned columns, two spaces apart, no trailing blanks. */
  private static void table(List<String[]> rows, StringBuilder out) {
    int[] widths = new int[rows.get(0).length];
    for (String[] row : rows) {
      for (int i = 0; i < row.length; i++) {
        widths[i] = Math.max(widths[i], row[i].codePointCount(0, row[i].length()));
      }
    }
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < row.length; i++) {
        if (i > 0) {
          line.append("  ");
        }
        line.append(row[i]).append(" ".repeat(widths[i] - row[i].codePointCount(0, row[i].length())));
      }
      out.append(line.toString().stripTrailing()).append('\n');
    }
  }

  private static String firstLine(String s) {
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  /** The work directory's path written as {@value #WORK}: a temporary directory's random name must not show. */
  static String masked(String s, Path workDir) {
    if (s == null || workDir == null) {
      return s;
    }
    String dir = workDir.toAbsolutePath().normalize().toString();
    return dir.equals("/") ? s : s.replace(dir, WORK);
  }

  private static String text(String s) {
    return s == null ? "" : ControlCharacters.escape(s);
  }
}
