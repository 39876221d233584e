package dev.csinode.simulator.report;

import com.github.mustachejava.DefaultMustacheFactory;
import com.github.mustachejava.Mustache;
import dev.csinode.simulator.invariants.Violation;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results as one self-contained HTML page (inline CSS, no script, nothing fetched): per scenario its outcome,
 * seed, time, checks and figures, the failed checks with the calls around each violation, and a timeline per volume
 * on which each CSI call is a bar coloured by its outcome, its details in the bar's tooltip. The markup is the
 * template {@code report/report.mustache}; this class computes what it shows. Mustache escapes every value for HTML,
 * and text from outside has its control characters escaped before (see {@link ReportText}).
 */
public final class HtmlReport {
  private static final Mustache TEMPLATE = new DefaultMustacheFactory("report").compile("report.mustache");

  private HtmlReport() {}

  record Page(String verdict, boolean passed, List<ScenarioView> scenarios) {}

  /**
   * @param anchor      the section's id, for the summary's links
   * @param description null when the scenario has none (Mustache shows nothing for null)
   * @param error       the scenario error, or null
   * @param timeline    null when the scenario made no CSI call
   */
  record ScenarioView(String anchor, String name, String description, boolean passed, String result, long seed,
                      String time, int steps, String checks, long violations, String error, List<Figure> figures,
                      List<CheckView> failedChecks, Timeline timeline, int calls) {
    public boolean hasFigures() {
      return !figures.isEmpty();
    }

    public boolean hasFailedChecks() {
      return !failedChecks.isEmpty();
    }
  }

  record Figure(String name, String value) {}

  /** @param failure null for an invariant (its violations say what went wrong) */
  record CheckView(String name, String kind, String failure, List<ViolationView> violations) {}

  /** @param around the calls around it, one aligned line each, or null */
  record ViolationView(String summary, String around) {}

  /** Writes the page, replacing the file in one step (after a crash it holds the old page or the new). */
  public static void write(List<ScenarioResult> results, Path file) throws IOException {
    ReportFiles.replace(file, render(results));
  }

  /** The page as UTF-8, rendered straight into bytes: a large trace's page is tens of MB. */
  static byte[] render(List<ScenarioResult> results) {
    List<ScenarioView> scenarios = new ArrayList<>(results.size());
    for (int i = 0; i < results.size(); i++) {
      scenarios.add(view(results.get(i), "scenario-" + (i + 1)));
    }
    long failed = results.stream().filter(r -> !r.passed()).count();
    String verdict = failed == 0 ? "PASS: " + ReportText.plural(results.size(), "scenario", "scenarios") + " passed"
        : "FAIL: " + failed + " of " + ReportText.plural(results.size(), "scenario", "scenarios") + " failed";
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (Writer out = new BufferedWriter(new OutputStreamWriter(bytes, StandardCharsets.UTF_8))) {
      TEMPLATE.execute(out, new Page(verdict, failed == 0, scenarios));
    } catch (IOException e) {
      throw new UncheckedIOException("could not render the HTML report: " + e.getMessage(), e);
    }
    return bytes.toByteArray();
  }

  private static ScenarioView view(ScenarioResult r, String anchor) {
    long passedChecks = r.checks().stream().filter(Check::passed).count();
    List<Figure> figures = new ArrayList<>();
    for (Map.Entry<String, String> f : r.figures().entrySet()) {
      figures.add(new Figure(ReportText.text(f.getKey()), ReportText.text(f.getValue())));
    }
    List<CheckView> failed = new ArrayList<>();
    for (Check c : r.checks()) {
      if (!c.passed()) {
        List<ViolationView> violations = new ArrayList<>(c.violations().size());
        for (Violation v : c.violations()) {
          String around = v.around().isEmpty() ? null : String.join("\n", CallLines.of(v.around()));
          violations.add(new ViolationView(TerminalSummary.violation(v), around));
        }
        failed.add(new CheckView(ReportText.text(c.name()), c.kind().name().toLowerCase(Locale.ROOT),
            c.failure() == null ? null : ReportText.text(c.failure()), violations));
      }
    }
    String result = r.error() != null ? "ERROR" : r.passed() ? "PASS" : "FAIL";
    return new ScenarioView(anchor, ReportText.text(r.scenario()),
        r.description() == null || r.description().isEmpty() ? null : ReportText.text(r.description()),
        r.passed(), result, r.seed(), ReportText.seconds(r.durationMillis()) + " s", r.steps(),
        passedChecks + "/" + r.checks().size(), TerminalSummary.violations(r),
        r.error() == null ? null : ReportText.text(r.error()), figures, failed,
        Timeline.of(r.trace(), r.durationMillis()), r.trace().size());
  }
}
