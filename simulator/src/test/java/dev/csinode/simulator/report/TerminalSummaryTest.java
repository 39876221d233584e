package dev.csinode.simulator.report;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.simulator.invariants.Violation;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class TerminalSummaryTest {
  private static final List<ScenarioResult> RESULTS =
      List.of(SampleResults.passing(), SampleResults.failing(), SampleResults.errored());

  @Test
  void theTableHasAScenarioPerLineInAlignedColumns() {
    List<String> table = TerminalSummary.render(RESULTS, false).lines().limit(4).toList();
    assertEquals(List.of(
        "SCENARIO         STEPS  CHECKS  VIOLATIONS      TIME  RESULT",
        "basic-lifecycle      5     3/3           0   1.234 s  PASS",
        "broken-stage         9     1/3           2  31.500 s  FAIL",
        "driver-never-up      2     0/0           0   5.000 s  ERROR"), table);
  }

  @Test
  void columnsStayAlignedWithColourAndWithWideValues() {
    ScenarioResult wide = new ScenarioResult("a-scenario-with-a-rather-long-name", null, 1, 12_345,
        List.of(), List.of(), 1_234_567, null, Map.of());
    List<String> table = TerminalSummary.render(List.of(SampleResults.failing(), wide), true).lines().limit(3)
        .map(l -> l.replaceAll("\u001b\\[[0-9;]*m", "")).toList();
    int result = table.get(0).indexOf("RESULT");
    int timeEnd = table.get(0).indexOf("TIME") + "TIME".length();
    for (String line : table) {
      assertTrue(line.substring(result).matches("RESULT|PASS|FAIL"), line);
      assertTrue(line.substring(0, timeEnd).matches(".*(TIME| s)"), "TIME right-aligned: " + line);
    }
    assertEquals("a-scenario-with-a-rather-long-name  12345     0/0           0  1234.567 s  PASS", table.get(2));
  }

  @Test
  void aFailedCheckShowsItsReasonItsViolationsAndTheCallsAroundEachOneALine() {
    List<String> lines = TerminalSummary.render(List.of(SampleResults.failing()), false).lines().toList();
    int start = lines.indexOf("Failed checks");
    assertEquals(List.of(
        "broken-stage: step 4 assert pod default/b Ready",
        "  pod default/b is Pending: stage failed\\nINFO fake log line \\u001b[2J\\u202e<script>alert(1)</script>",
        "broken-stage: invariant stage-before-publish",
        "  stage-before-publish on volume vol-b: NodePublishVolume without a successful NodeStageVolume",
        "    #1  NodeStageVolume    vol-b  INTERNAL   fault=stage-fails  0.500..1.500 ms      \"stage failed\\nINFO fake"
            + " log line \\u001b[2J\\u202e<script>alert(1)</script>\"",
        "    #2  NodePublishVolume  vol-b  OK         -                  1.600..2.000 ms",
        "    #3  NodePublishVolume  vol-b  in-flight  fault=hang         1.800.. (in flight)",
        "  stage-before-publish on volume vol-c: second breach",
        "",
        "FAIL: 1 of 1 scenario failed (2 checks failed, 2 violations, 0 scenario errors)"),
        lines.subList(start + 1, lines.size()));
  }

  @Test
  void nothingADriverSaysReachesTheTerminalAsAControlCharacter() {
    for (boolean color : new boolean[] {false, true}) {
      String out = TerminalSummary.render(RESULTS, color);
      String withoutOurColours = out.replaceAll("\u001b\\[[0-9;]*m", "");
      assertTrue(withoutOurColours.chars().noneMatch(c -> c != '\n' && (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)
          || c == 0x202e)), withoutOurColours);
      assertFalse(out.contains("\nINFO fake log line"), "a newline in a message does not start a line");
    }
    assertFalse(TerminalSummary.render(RESULTS, false).contains("\u001b"), "no colour asked for, none given");
  }

  @Test
  void longListsOfViolationsAreCutWithACount() {
    List<Violation> many = new ArrayList<>();
    for (int i = 0; i < TerminalSummary.VIOLATIONS_SHOWN + 3; i++) {
      many.add(new Violation("one-operation-per-volume", "vol-" + i, "two operations in flight", List.of()));
    }
    ScenarioResult r = new ScenarioResult("overlap", null, 1, 1,
        List.of(new Check("invariant one-operation-per-volume", Check.Kind.INVARIANT, null, many, 1)),
        List.of(), 10, null, Map.of());
    String out = TerminalSummary.render(List.of(r), false);
    assertEquals(TerminalSummary.VIOLATIONS_SHOWN, out.lines().filter(l -> l.startsWith("  one-operation-per-volume")).count());
    assertTrue(out.contains("\n  ... 3 more violations (all in the JUnit and HTML reports)\n"), out);
    assertTrue(out.contains("FAIL: 1 of 1 scenario failed (1 check failed, 13 violations, 0 scenario errors)"), out);
  }

  @Test
  void figuresFollowPerScenarioAndTheVerdictEndsIt() {
    String out = TerminalSummary.render(List.of(SampleResults.passing()), false);
    assertTrue(out.endsWith("""

        Figures
        basic-lifecycle
          pods ready per second   412.5
          ready latency p99      120 ms

        PASS: 1 scenario, 3 checks, no violations
        """), out);
    assertFalse(out.contains("Failed checks"));
    assertEquals(out, TerminalSummary.render(List.of(SampleResults.passing()), false), "the same results, the same text");
    assertTrue(TerminalSummary.render(List.of(SampleResults.passing()), true)
        .endsWith("\u001b[1m\u001b[32mPASS: 1 scenario, 3 checks, no violations\u001b[0m\n"));
  }
}
