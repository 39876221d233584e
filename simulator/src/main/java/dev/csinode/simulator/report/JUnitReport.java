package dev.csinode.simulator.report;

import dev.csinode.simulator.invariants.Violation;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.xml.stream.XMLOutputFactory;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamWriter;

/**
 * The results as JUnit XML, the dialect Jenkins, GitLab and GitHub's test reporters read: a {@code testsuite} per
 * scenario, and in it a {@code testcase} for the run itself (with an {@code error} when the scenario could not go on)
 * and one per check (with a {@code failure} naming each violation and the calls around it); the figures are the
 * suite's {@code system-out}. Every text from outside is escaped first (see {@link ReportText}) and made legal XML.
 */
public final class JUnitReport {
  /** The test case that stands for the scenario's run, next to its checks. */
  static final String RUN_CASE = "scenario run";

  private static final XMLOutputFactory XML = XMLOutputFactory.newFactory();

  private JUnitReport() {}

  /**
   * A test case of a flat report (check-driver's: one per scenario): skipped with its reason, failed with a message and
   * details, in error, or passed when all three are null. Texts are taken as they are and escaped here.
   */
  public record Case(String name, long durationMillis, String skipped, String failureMessage, String failureDetails,
                     String error) {}

  /** Writes one test suite of these cases (see {@link Case}), replacing the file in one step. */
  public static void write(String suite, List<Case> cases, Path file) throws IOException {
    ReportFiles.replace(file, render(suite, cases));
  }

  static byte[] render(String suite, List<Case> cases) {
    return document(w -> {
      w.writeStartElement("testsuites");
      w.writeAttribute("name", clean(suite));
      counts(w, cases);
      newline(w, 1);
      w.writeStartElement("testsuite");
      w.writeAttribute("name", clean(suite));
      counts(w, cases);
      w.writeAttribute("skipped", String.valueOf(cases.stream().filter(c -> c.skipped() != null).count()));
      for (Case c : cases) {
        newline(w, 2);
        w.writeStartElement("testcase");
        w.writeAttribute("classname", clean(suite));
        w.writeAttribute("name", clean(c.name()));
        w.writeAttribute("time", ReportText.seconds(c.durationMillis()));
        if (c.skipped() != null) {
          newline(w, 3);
          w.writeEmptyElement("skipped");
          w.writeAttribute("message", clean(c.skipped()));
          newline(w, 2);
        } else if (c.error() != null) {
          newline(w, 3);
          w.writeStartElement("error");
          w.writeAttribute("message", clean(c.error()));
          w.writeAttribute("type", "scenario error");
          w.writeCharacters(XmlText.legal(c.failureDetails() == null ? ReportText.text(c.error()) : c.failureDetails()));
          w.writeEndElement();
          newline(w, 2);
        } else if (c.failureMessage() != null) {
          newline(w, 3);
          w.writeStartElement("failure");
          w.writeAttribute("message", clean(c.failureMessage()));
          w.writeAttribute("type", "check");
          w.writeCharacters(XmlText.legal(c.failureDetails() == null ? "" : c.failureDetails()));
          w.writeEndElement();
          newline(w, 2);
        }
        w.writeEndElement();
      }
      newline(w, 1);
      w.writeEndElement();
      newline(w, 0);
      w.writeEndElement();
    });
  }

  /** What goes between the XML declaration and the end of the document: the {@code testsuites} element. */
  private interface Body {
    void write(XMLStreamWriter w) throws XMLStreamException;
  }

  /** The document around a body: the declaration, the body, the line breaks a reader of the file expects. */
  private static byte[] document(Body body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      XMLStreamWriter w = XML.createXMLStreamWriter(out, "UTF-8");
      w.writeStartDocument("UTF-8", "1.0");
      newline(w, 0);
      body.write(w);
      newline(w, 0);
      w.writeEndDocument();
      w.close();
    } catch (XMLStreamException e) {
      throw new IllegalStateException("could not write the JUnit report: " + e.getMessage(), e);
    }
    return out.toByteArray();
  }

  private static void counts(XMLStreamWriter w, List<Case> cases) throws XMLStreamException {
    w.writeAttribute("tests", String.valueOf(cases.size()));
    w.writeAttribute("failures", String.valueOf(cases.stream().filter(c -> c.skipped() == null && c.error() == null
        && c.failureMessage() != null).count()));
    w.writeAttribute("errors", String.valueOf(cases.stream().filter(c -> c.skipped() == null && c.error() != null).count()));
    w.writeAttribute("time", ReportText.seconds(cases.stream().mapToLong(Case::durationMillis).sum()));
  }

  /** Writes the report to file, replacing it in one step (after a crash it holds the old report or the new). */
  public static void write(List<ScenarioResult> results, Path file) throws IOException {
    ReportFiles.replace(file, render(results));
  }

  static byte[] render(List<ScenarioResult> results) {
    return document(w -> {
      w.writeStartElement("testsuites");
      w.writeAttribute("name", "csi-node-agent simulate");
      w.writeAttribute("tests", String.valueOf(results.stream().mapToLong(JUnitReport::tests).sum()));
      w.writeAttribute("failures", String.valueOf(results.stream().mapToLong(JUnitReport::failures).sum()));
      w.writeAttribute("errors", String.valueOf(results.stream().mapToLong(JUnitReport::errors).sum()));
      w.writeAttribute("time", ReportText.seconds(results.stream().mapToLong(ScenarioResult::durationMillis).sum()));
      for (ScenarioResult r : results) {
        suite(w, r);
      }
      newline(w, 0);
      w.writeEndElement();
    });
  }

  private static void suite(XMLStreamWriter w, ScenarioResult r) throws XMLStreamException {
    String scenario = clean(r.scenario());
    newline(w, 1);
    w.writeStartElement("testsuite");
    w.writeAttribute("name", scenario);
    w.writeAttribute("tests", String.valueOf(tests(r)));
    w.writeAttribute("failures", String.valueOf(failures(r)));
    w.writeAttribute("errors", String.valueOf(errors(r)));
    w.writeAttribute("skipped", "0");
    w.writeAttribute("time", ReportText.seconds(r.durationMillis()));
    newline(w, 2);
    w.writeStartElement("properties");
    property(w, "seed", String.valueOf(r.seed()));
    property(w, "steps", String.valueOf(r.steps()));
    if (r.description() != null) {
      property(w, "description", clean(r.description()));
    }
    newline(w, 2);
    w.writeEndElement();

    newline(w, 2);
    w.writeStartElement("testcase");
    w.writeAttribute("classname", scenario);
    w.writeAttribute("name", RUN_CASE);
    w.writeAttribute("time", ReportText.seconds(r.durationMillis()));
    if (r.error() != null) {
      newline(w, 3);
      w.writeStartElement("error");
      w.writeAttribute("message", clean(r.error()));
      w.writeAttribute("type", "scenario error");
      w.writeCharacters(clean(r.error()));
      w.writeEndElement();
      newline(w, 2);
    }
    w.writeEndElement();

    for (Check c : r.checks()) {
      newline(w, 2);
      w.writeStartElement("testcase");
      w.writeAttribute("classname", scenario);
      w.writeAttribute("name", clean(c.name()));
      w.writeAttribute("time", ReportText.seconds(c.durationMillis()));
      if (!c.passed()) {
        newline(w, 3);
        w.writeStartElement("failure");
        w.writeAttribute("message", XmlText.legal(failureMessage(c)));
        w.writeAttribute("type", c.kind().name().toLowerCase(Locale.ROOT));
        w.writeCharacters(XmlText.legal(failureDetails(c)));
        w.writeEndElement();
        newline(w, 2);
      }
      w.writeEndElement();
    }

    newline(w, 2);
    w.writeStartElement("system-out");
    w.writeCharacters(XmlText.legal(systemOut(r)));
    w.writeEndElement();
    newline(w, 1);
    w.writeEndElement();
  }

  private static void property(XMLStreamWriter w, String name, String value) throws XMLStreamException {
    newline(w, 3);
    w.writeEmptyElement("property");
    w.writeAttribute("name", name);
    w.writeAttribute("value", value);
  }

  /** One line: the assertion's reason, or the first violation and how many more there are. */
  public static String failureMessage(Check c) {
    if (c.failure() != null) {
      return ReportText.text(c.failure());
    }
    String first = TerminalSummary.violation(c.violations().get(0));
    int more = c.violations().size() - 1;
    return more == 0 ? first : first + " (and " + ReportText.plural(more, "more violation", "more violations") + ")";
  }

  /** Every violation with the calls around it, one line each. */
  public static String failureDetails(Check c) {
    StringBuilder b = new StringBuilder();
    if (c.failure() != null) {
      b.append(ReportText.text(c.failure())).append('\n');
    }
    for (Violation v : c.violations()) {
      b.append(TerminalSummary.violation(v)).append('\n');
      CallLines.of(v.around()).forEach(line -> b.append("  ").append(line).append('\n'));
    }
    return b.toString();
  }

  private static String systemOut(ScenarioResult r) {
    StringBuilder b = new StringBuilder();
    b.append("seed: ").append(r.seed()).append('\n');
    for (Map.Entry<String, String> f : r.figures().entrySet()) {
      b.append(ReportText.text(f.getKey())).append(": ").append(ReportText.text(f.getValue())).append('\n');
    }
    return b.toString();
  }

  private static String clean(String s) {
    return XmlText.legal(ReportText.text(s));
  }

  private static long tests(ScenarioResult r) {
    return r.checks().size() + 1L;
  }

  private static long failures(ScenarioResult r) {
    return r.checks().stream().filter(c -> !c.passed()).count();
  }

  private static long errors(ScenarioResult r) {
    return r.error() == null ? 0 : 1;
  }

  /** Indentation, so a person can read the file too; whitespace between elements means nothing to a reader. */
  private static void newline(XMLStreamWriter w, int depth) throws XMLStreamException {
    w.writeCharacters("\n" + "  ".repeat(depth));
  }
}
