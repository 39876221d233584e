package dev.csinode.simulator.report;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

@Tag("unit")
class JUnitReportTest {
  @TempDir
  Path dir;

  @Test
  void aSuitePerScenarioACasePerCheckAndTheRunWithCountsCiServersAddUp() throws Exception {
    Document doc = writeAndParse(List.of(SampleResults.passing(), SampleResults.failing(), SampleResults.errored()));
    Element root = doc.getDocumentElement();
    assertEquals("testsuites", root.getTagName());
    assertEquals("9", root.getAttribute("tests"), "3 + 3 checks and one run case per scenario");
    assertEquals("2", root.getAttribute("failures"));
    assertEquals("1", root.getAttribute("errors"));
    assertEquals("37.734", root.getAttribute("time"));

    List<Element> suites = elements(root, "testsuite");
    assertEquals(List.of("basic-lifecycle", "broken-stage", "driver-never-up"),
        suites.stream().map(s -> s.getAttribute("name")).toList());
    assertSuite(suites.get(0), "4", "0", "0", "1.234");
    assertSuite(suites.get(1), "4", "2", "0", "31.500");
    assertSuite(suites.get(2), "1", "0", "1", "5.000");

    List<Element> cases = elements(suites.get(1), "testcase");
    assertEquals(List.of(JUnitReport.RUN_CASE, "step 4 assert pod default/b Ready", "invariant stage-before-publish",
        "invariant one-operation-per-volume"), cases.stream().map(c -> c.getAttribute("name")).toList());
    assertTrue(cases.stream().allMatch(c -> c.getAttribute("classname").equals("broken-stage")));
    assertEquals("30.000", cases.get(1).getAttribute("time"));
    assertEquals(List.of(), elements(cases.get(0), "failure"));
    assertEquals(List.of(), elements(cases.get(3), "failure"), "a check that held has no failure");

    Element invariant = elements(cases.get(2), "failure").get(0);
    assertEquals("invariant", invariant.getAttribute("type"));
    assertEquals("stage-before-publish on volume vol-b: NodePublishVolume without a successful NodeStageVolume"
        + " (and 1 more violation)", invariant.getAttribute("message"));
    String details = invariant.getTextContent();
    assertTrue(details.contains("stage-before-publish on volume vol-c: second breach"), details);
    assertTrue(details.lines().anyMatch(l -> l.matches("\\s+#3  NodePublishVolume  vol-b  in-flight\\s+fault=hang\\s+"
        + "1\\.800\\.\\. \\(in flight\\)")), details);
    assertTrue(details.lines().anyMatch(l -> l.matches("\\s+#1  NodeStageVolume\\s+vol-b  INTERNAL\\s+fault=stage-fails"
        + "\\s+0\\.500\\.\\.1\\.500 ms\\s+\"stage failed\\\\nINFO.*")), details);

    Element error = elements(elements(suites.get(2), "testcase").get(0), "error").get(0);
    assertTrue(error.getAttribute("message").startsWith("driver at unix:///tmp/x.sock did not answer Probe"));

    String out = elements(suites.get(0), "system-out").get(0).getTextContent();
    assertEquals("seed: 42\npods ready per second: 412.5\nready latency p99: 120 ms\n", out);
    assertEquals("42", property(suites.get(0), "seed"));
    assertEquals("stage, publish, unpublish, unstage", property(suites.get(0), "description"));
  }

  @Test
  void aDriverMessageWithCharactersXmlForbidsStillGivesAFileAParserReads() throws Exception {
    String nasty = "bad\u0000\u0001\u0008\u000b\u001b[31m\uffff\ufffe\ud800 half a pair, & <tag> \"quoted\" \ud83d\ude00 kept";
    ScenarioResult r = new ScenarioResult("nasty\u0007name", null, 1, 1, List.of(
        new Check("step 1 assert", Check.Kind.ASSERTION, nasty, List.of(), 1)), List.of(), 10, nasty, Map.of());
    Document doc = writeAndParse(List.of(r));
    Element suite = elements(doc.getDocumentElement(), "testsuite").get(0);
    assertEquals("nasty\\u0007name", suite.getAttribute("name"));
    String message = elements(elements(suite, "testcase").get(1), "failure").get(0).getAttribute("message");
    assertEquals("bad\\u0000\\u0001\\u0008\\u000b\\u001b[31m\\uffff\\ufffe\\ud800 half a pair, & <tag> \"quoted\""
        + " \ud83d\ude00 kept", message);
    String error = elements(elements(suite, "testcase").get(0), "error").get(0).getTextContent();
    assertEquals(message, error);
  }

  @Test
  void theFileIsReplacedNotAppendedTo() throws Exception {
    Path file = dir.resolve("junit.xml");
    JUnitReport.write(List.of(SampleResults.failing()), file);
    JUnitReport.write(List.of(SampleResults.passing()), file);
    assertEquals("0", parse(file).getDocumentElement().getAttribute("failures"));
    try (var files = Files.list(dir)) {
      assertEquals(List.of(file), files.toList(), "no temp file left beside it");
    }
  }

  private Document writeAndParse(List<ScenarioResult> results) throws Exception {
    Path file = dir.resolve("junit.xml");
    JUnitReport.write(results, file);
    return parse(file);
  }

  static Document parse(Path file) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
    return f.newDocumentBuilder().parse(file.toFile());
  }

  private static void assertSuite(Element suite, String tests, String failures, String errors, String time) {
    assertEquals(List.of(tests, failures, errors, "0", time), List.of(suite.getAttribute("tests"),
        suite.getAttribute("failures"), suite.getAttribute("errors"), suite.getAttribute("skipped"),
        suite.getAttribute("time")), suite.getAttribute("name"));
    assertEquals(Integer.parseInt(tests), elements(suite, "testcase").size());
  }

  private static String property(Element suite, String name) {
    return elements(elements(suite, "properties").get(0), "property").stream()
        .filter(p -> p.getAttribute("name").equals(name)).findFirst().orElseThrow().getAttribute("value");
  }

  /** The child elements of parent with this tag (not deeper ones). */
  static List<Element> elements(Element parent, String tag) {
    List<Element> found = new ArrayList<>();
    NodeList children = parent.getChildNodes();
    for (int i = 0; i < children.getLength(); i++) {
      if (children.item(i) instanceof Element e && e.getTagName().equals(tag)) {
        found.add(e);
      }
    }
    return found;
  }
}
