package dev.csinode.simulator.report;

import static dev.csinode.simulator.report.JUnitReportTest.parse;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** The page is written as well-formed XML (an HTML5 document a browser and an XML parser both read), so a DOM finds its parts. */
@Tag("unit")
class HtmlReportTest {
  @TempDir
  Path dir;

  @Test
  void aRowPerVolumeAndABarPerCall() throws Exception {
    Document doc = writeAndParse(List.of(SampleResults.passing(), SampleResults.failing()));
    List<Element> sections = byAttribute(doc, "data-scenario");
    assertEquals(List.of("basic-lifecycle", "broken-stage"), sections.stream().map(s -> s.getAttribute("data-scenario")).toList());

    List<Element> rows = within(sections.get(0), "data-volume");
    assertEquals(List.of("", "vol-a"), rows.stream().map(r -> r.getAttribute("data-volume")).toList(),
        "the calls without a volume have a row of their own, first");
    assertEquals(List.of("1"), seqs(rows.get(0)));
    assertEquals(List.of("2", "3", "4", "5", "6"), seqs(rows.get(1)));
    assertEquals(SampleResults.passing().trace().size(), within(sections.get(0), "data-seq").size());

    rows = within(sections.get(1), "data-volume");
    assertEquals(List.of("vol-b", "vol-c"), rows.stream().map(r -> r.getAttribute("data-volume")).toList(),
        "no row without a volume when every call names one");
    assertEquals(List.of("1", "2", "3"), seqs(rows.get(0)));
    assertEquals(List.of("4", "5"), seqs(rows.get(1)));
  }

  @Test
  void barsAreColouredByOutcomeAndPlacedOnTheScenariosTimeAxis() throws Exception {
    Document doc = writeAndParse(List.of(SampleResults.passing(), SampleResults.failing()));
    Map<String, Element> bars = byAttribute(doc, "data-seq").stream()
        .filter(b -> ancestorScenario(b).equals("broken-stage"))
        .collect(Collectors.toMap(b -> b.getAttribute("data-seq"), b -> b));
    assertEquals("fault", bars.get("1").getAttribute("data-outcome"));
    assertEquals("ok", bars.get("2").getAttribute("data-outcome"));
    assertEquals("in-flight", bars.get("3").getAttribute("data-outcome"));
    assertEquals("ok", bars.get("4").getAttribute("data-outcome"));
    assertEquals("error", bars.get("5").getAttribute("data-outcome"), "a probe that failed shows as an error");
    assertEquals("bar error probe", bars.get("5").getAttribute("class"), "and is still marked as a probe");

    // The axis runs 0..31.5 s (the scenario's duration is longer than its calls).
    assertEquals("left:0.0016%;width:0.0032%;top:0px", bars.get("1").getAttribute("style"));
    assertTrue(bars.get("3").getAttribute("style").startsWith("left:0.0057%;width:99.9943%;"),
        "a call still in flight runs to the end of the axis");
    assertTrue(bars.get("2").getAttribute("style").endsWith("top:0px"));
    assertTrue(bars.get("3").getAttribute("style").endsWith("top:" + Timeline.LANE_PX + "px"),
        "a call that overlaps another on its volume goes in the next lane");
    Element lane = (Element) bars.get("3").getParentNode();
    assertEquals("height:" + 2 * Timeline.LANE_PX + "px", lane.getAttribute("style"));

    assertEquals("width:calc(20em + 6300px)", ((Element) lane.getParentNode().getParentNode()).getAttribute("style"),
        "a longer run gets a wider axis: one px per 5 ms");
    List<String> ticks = ticks(doc, "broken-stage");
    assertEquals(32, ticks.size(), "about one tick per 150 px: " + ticks);
    assertEquals(List.of("0 ms@left:0.0000%", "1000 ms@left:3.1746%", "2000 ms@left:6.3492%"), ticks.subList(0, 3));
    assertEquals("31000 ms@left:98.4127%", ticks.get(31));
  }

  @Test
  void withoutACallInFlightTheAxisSpansTheCalls() throws Exception {
    Document doc = writeAndParse(List.of(SampleResults.passing()));
    assertEquals(List.of("0 ms@left:0.0000%", "2 ms@left:22.2222%", "4 ms@left:44.4444%", "6 ms@left:66.6667%",
        "8 ms@left:88.8889%"), ticks(doc, "basic-lifecycle"), "the calls end at 9 ms; the scenario ran 1.2 s");
    Element last = byAttribute(doc, "data-seq").get(5);
    assertEquals("left:95.5556%;width:4.4444%;top:0px", last.getAttribute("style"));
  }

  @Test
  void theTooltipHasTheCallsDetailsAndADriversMarkupStaysText() throws Exception {
    Path file = dir.resolve("report.html");
    HtmlReport.write(List.of(SampleResults.failing(), SampleResults.errored()), file);
    String html = Files.readString(file, StandardCharsets.UTF_8);
    assertFalse(html.contains("<script"), "no script: neither the page's nor a driver's");
    assertFalse(html.contains("\u001b") || html.contains("\u202e"), "control characters are escaped");
    assertFalse(html.contains("http://") || html.contains("https://"), "nothing fetched from the network");

    Document doc = parse(file);
    assertEquals(0, doc.getElementsByTagName("script").getLength());
    Element stage = byAttribute(doc, "data-seq").get(0);
    assertEquals("#1 NodeStageVolume\nvolume: vol-b\ncode: INTERNAL\nmessage: stage failed\\nINFO fake log line "
        + "\\u001b[2J\\u202e<script>alert(1)</script>\nstaging: " + SampleResults.STAGING
        + "\nfault: stage-fails\n0.500..1.500 ms (1.000 ms)", stage.getAttribute("title"));

    String page = doc.getDocumentElement().getTextContent();
    assertTrue(page.contains("pod default/b is Pending: stage failed\\nINFO fake log line \\u001b[2J\\u202e<script>"), page);
    assertTrue(page.contains("Scenario error: driver at unix:///tmp/x.sock did not answer Probe"), page);
    assertTrue(page.contains("stage-before-publish on volume vol-c: second breach"), page);
    assertTrue(page.contains("No CSI calls were recorded."), "a scenario without calls has no empty timeline");

    List<Element> around = elements(doc, "pre");
    assertEquals(1, around.size(), "the second violation has no calls around it");
    List<String> lines = around.get(0).getTextContent().lines().toList();
    assertEquals(3, lines.size(), lines.toString());
    assertTrue(lines.get(2).matches("#3  NodePublishVolume  vol-b  in-flight\\s+fault=hang\\s+1\\.800\\.\\. \\(in flight\\)"), lines.get(2));
  }

  @Test
  void aScenarioHeaderSaysItsOutcomeSeedTimeChecksAndFigures() throws Exception {
    Document doc = writeAndParse(List.of(SampleResults.passing()));
    String page = doc.getDocumentElement().getTextContent().replaceAll("\\s+", " ");
    assertTrue(page.contains("PASS basic-lifecycle"), page);
    assertTrue(page.contains("seed42time1.234 ssteps5checks passed3/3violations0CSI calls6"), page);
    assertTrue(page.contains("pods ready per second412.5"), page);
    assertFalse(page.contains("Failed checks"), page);
  }

  private static List<String> ticks(Document doc, String scenario) {
    List<String> ticks = new ArrayList<>();
    for (Element e : elements(doc, "span")) {
      if (e.getAttribute("class").equals("tick") && ancestorScenario(e).equals(scenario)) {
        ticks.add(e.getTextContent() + "@" + e.getAttribute("style"));
      }
    }
    return ticks;
  }

  private Document writeAndParse(List<ScenarioResult> results) throws Exception {
    Path file = dir.resolve("report.html");
    HtmlReport.write(results, file);
    return parse(file);
  }

  private static List<String> seqs(Element row) {
    return within(row, "data-seq").stream().map(b -> b.getAttribute("data-seq")).toList();
  }

  private static String ancestorScenario(Element e) {
    for (var n = e.getParentNode(); n instanceof Element p; n = p.getParentNode()) {
      if (p.hasAttribute("data-scenario")) {
        return p.getAttribute("data-scenario");
      }
    }
    return "";
  }

  private static List<Element> byAttribute(Document doc, String attribute) {
    return within(doc.getDocumentElement(), attribute);
  }

  /** The elements below root (in document order) that carry attribute. */
  private static List<Element> within(Element root, String attribute) {
    List<Element> found = new ArrayList<>();
    NodeList all = root.getElementsByTagName("*");
    for (int i = 0; i < all.getLength(); i++) {
      Element e = (Element) all.item(i);
      if (e.hasAttribute(attribute)) {
        found.add(e);
      }
    }
    return found;
  }

  private static List<Element> elements(Document doc, String tag) {
    List<Element> found = new ArrayList<>();
    NodeList all = doc.getElementsByTagName(tag);
    for (int i = 0; i < all.getLength(); i++) {
      found.add((Element) all.item(i));
    }
    return found;
  }
}
