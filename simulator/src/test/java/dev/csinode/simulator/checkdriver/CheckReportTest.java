package dev.csinode.simulator.checkdriver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.simulator.invariants.IdempotentRepeat;
import dev.csinode.simulator.scenario.Scenario;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

@Tag("unit")
class CheckReportTest {
  private static final Path WORK = Path.of("/tmp/csi-check-4242");
  private static final Scenario OK = Samples.scenario("aaa-passes", "suite: basic\n");
  private static final Scenario BROKEN = Samples.scenario("bbb-breaks", "suite: basic\nreferences: [kubernetes/kubernetes#82190]\n");
  private static final Scenario FULL = Samples.scenario("ccc-full", "suite: full\n");
  private static final Scenario ERRS = Samples.scenario("ddd-errs", "suite: basic\n");

  @TempDir Path dir;

  /** The same outcome with other durations: what a second run of the same driver gives. */
  private static List<CheckDriver.Entry> entries(long millis) {
    return List.of(
        Samples.ran(OK, Samples.result(OK, millis, null, Samples.passed("step 2 wait-ready default/a"))),
        Samples.ran(BROKEN, Samples.result(BROKEN, millis * 3, null, Samples.passed("step 2 wait-ready default/a"),
            Samples.failed("invariant idempotent-repeat", "the repeat #7 NodeStageVolume answered ALREADY_EXISTS\u001b[2J"),
            Samples.failed("step 4 wait-gone default/a", "volume still staged at " + WORK + "/1/root/plugins/x/globalmount"))),
        Samples.skipped(FULL, "skipped: suite full (give --suite full)"));
  }

  @Test
  void theSameResultsGiveTheSameTextWhateverTheirOrderAndDurations() {
    String first = CheckReport.render(Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, entries(1000), WORK);
    List<CheckDriver.Entry> shuffled = new ArrayList<>(entries(98765));
    Collections.shuffle(shuffled, new Random(3));
    assertEquals(first, CheckReport.render(Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, shuffled, WORK));
    assertFalse(first.contains("4242"), "the work directory's name is written as $WORK:\n" + first);
    assertFalse(first.contains("\u001b"), "control characters escaped:\n" + first);
    assertEquals("""
        driver: hostpath.csinode.dev 0.1.0
        plugin capabilities: CONTROLLER_SERVICE
        controller capabilities: CREATE_DELETE_VOLUME, GET_CAPACITY
        node capabilities: STAGE_UNSTAGE_VOLUME
        max volumes per node: 0 (no limit)
        suite: basic

        SCENARIO    RESULT  REASON
        aaa-passes  PASS
        bbb-breaks  FAIL    failed: invariant idempotent-repeat, step 4 wait-gone default/a
        ccc-full    SKIP    skipped: suite full (give --suite full)
        """, first.substring(0, first.indexOf("\nFailures")));
  }

  @Test
  void eachFailedCheckIsListedWithItsReasonAndHint() {
    String text = CheckReport.render(Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, entries(5), WORK);
    String failures = text.substring(text.indexOf("\nFailures\n"));
    assertEquals("""

        Failures

        bbb-breaks
          invariant idempotent-repeat
            the repeat #7 NodeStageVolume answered ALREADY_EXISTS\\u001b[2J
            hint: %s
          step 4 wait-gone default/a
            volume still staged at $WORK/1/root/plugins/x/globalmount
            hint: %s
          references: kubernetes/kubernetes#82190

        FAIL: 1 passed, 1 failed, 0 errors, 1 skipped
        """.formatted(new IdempotentRepeat().hint(), Hints.of(BROKEN, Samples.failed("step 4 wait-gone default/a", "x"))), failures);
  }

  @Test
  void theExitStatusIsZeroForPassesAndSkipsOneForAFailureTwoForAScenarioError() {
    CheckDriver.Entry pass = entries(1).get(0);
    CheckDriver.Entry fail = entries(1).get(1);
    CheckDriver.Entry skip = entries(1).get(2);
    CheckDriver.Entry error = Samples.ran(ERRS, Samples.result(ERRS, 1, "could not start: real mounts need root"));
    assertEquals(CheckReport.PASSED, CheckReport.status(List.of(pass, skip)));
    assertEquals(CheckReport.PASSED, CheckReport.status(List.of(skip)));
    assertEquals(CheckReport.FAILED, CheckReport.status(List.of(pass, fail, skip)));
    assertEquals(CheckReport.ERROR, CheckReport.status(List.of(pass, fail, error)));
    String text = CheckReport.render(Samples.NODE_ONLY, Scenario.Suite.FULL, List.of(error, pass), WORK);
    assertTrue(text.contains("ddd-errs    ERROR   error: could not start: real mounts need root\n"), text);
    assertTrue(text.contains("controller capabilities: no Controller service (UNIMPLEMENTED)\n"), text);
    assertTrue(text.endsWith("\nERROR: 1 passed, 0 failed, 1 error, 0 skipped\n"), text);
  }

  @Test
  void theListShowsWhatWouldRunAndWhyTheOthersAreSkipped() {
    List<ScenarioSelection.Decision> decisions = ScenarioSelection.of(List.of(FULL, OK), Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, true);
    String text = CheckReport.selection(Samples.HOSTPATH_LIKE, Scenario.Suite.BASIC, decisions);
    assertTrue(text.endsWith("""
        SCENARIO    SELECTION  REASON
        aaa-passes  RUN        the aaa-passes scenario
        ccc-full    SKIP       skipped: suite full (give --suite full)

        1 to run, 1 skipped
        """), text);
  }

  @Test
  void junitHasOneSuiteACasePerScenarioSkipsWithTheirReasonAndFailuresWithChecksAndHints() throws Exception {
    Path file = dir.resolve("check.xml");
    CheckDriver.Entry error = Samples.ran(ERRS, Samples.result(ERRS, 1, "driver at " + WORK + "/2 gone"));
    List<CheckDriver.Entry> all = new ArrayList<>(entries(2000));
    all.add(error);
    CheckReport.writeJUnit(all, WORK, file);
    Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(file.toFile());
    Element root = doc.getDocumentElement();
    assertEquals("4", root.getAttribute("tests"));
    assertEquals("1", root.getAttribute("failures"));
    assertEquals("1", root.getAttribute("errors"));
    List<Element> suites = children(root, "testsuite");
    assertEquals(1, suites.size());
    assertEquals("1", suites.get(0).getAttribute("skipped"));
    List<Element> cases = children(suites.get(0), "testcase");
    assertEquals(List.of("aaa-passes", "bbb-breaks", "ccc-full", "ddd-errs"), cases.stream().map(c -> c.getAttribute("name")).toList());
    assertEquals(Set.of(), Set.copyOf(children(cases.get(0), "failure")), "a pass has no failure");
    assertEquals("skipped: suite full (give --suite full)", children(cases.get(2), "skipped").get(0).getAttribute("message"));
    Element failure = children(cases.get(1), "failure").get(0);
    assertEquals("invariant idempotent-repeat, step 4 wait-gone default/a", failure.getAttribute("message"));
    assertTrue(failure.getTextContent().contains("invariant idempotent-repeat\n  the repeat #7 NodeStageVolume answered "
        + "ALREADY_EXISTS\\u001b[2J\n  hint: " + new IdempotentRepeat().hint()), failure.getTextContent());
    assertEquals("driver at $WORK/2 gone", children(cases.get(3), "error").get(0).getAttribute("message"));
    assertEquals("6.000", cases.get(1).getAttribute("time"));
  }

  private static List<Element> children(Element parent, String tag) {
    List<Element> out = new ArrayList<>();
    NodeList nodes = parent.getChildNodes();
    for (int i = 0; i < nodes.getLength(); i++) {
      if (nodes.item(i) instanceof Element e && e.getTagName().equals(tag)) {
        out.add(e);
      }
    }
    return out;
  }
}
