package dev.csinode.simulator.report;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A 5,000-pod churn's trace (30,000 calls on 5,000 volumes) gives every report in seconds: the bound is far above
 * what it takes (about a second) and far below what a pass quadratic in the calls would (minutes).
 */
class ReportsAtScaleTest {
  private static final long BOUND_MILLIS = 30_000;

  @TempDir
  Path dir;

  @Test
  void aChurnOfFiveThousandVolumesIsReportedInSeconds() throws Exception {
    List<ScenarioResult> results = List.of(SampleResults.large(5_000));
    Path html = dir.resolve("report.html");
    Path trace = dir.resolve("trace.jsonl");
    Path junit = dir.resolve("junit.xml");
    long t0 = System.nanoTime();
    HtmlReport.write(results, html);
    long t1 = System.nanoTime();
    TraceFile.write(results, trace);
    long t2 = System.nanoTime();
    JUnitReport.write(results, junit);
    String summary = TerminalSummary.render(results, false);
    long t3 = System.nanoTime();
    System.out.printf("html %d ms (%d bytes), trace %d ms (%d bytes), junit and summary %d ms%n", (t1 - t0) / 1_000_000,
        Files.size(html), (t2 - t1) / 1_000_000, Files.size(trace), (t3 - t2) / 1_000_000);
    assertTrue((t3 - t0) / 1_000_000 < BOUND_MILLIS, "took " + (t3 - t0) / 1_000_000 + " ms");

    String page = Files.readString(html);
    assertEquals(30_000, count(page, "data-seq=\""));
    assertEquals(5_000, count(page, "data-volume=\""));
    assertEquals(50, count(page, "data-outcome=\"error\""));
    assertEquals(30_000, Files.readAllLines(trace).size());
    assertTrue(summary.contains("churn-5000"), summary);
  }

  private static int count(String text, String what) {
    Matcher m = Pattern.compile(Pattern.quote(what)).matcher(text);
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }
}
