package dev.csinode.simulator.report;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.csinode.simulator.trace.CsiCall;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class TraceFileTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  @Test
  void aLinePerCallThatReadsBackAsTheCallWithItsScenario() throws Exception {
    List<ScenarioResult> results = List.of(SampleResults.passing(), SampleResults.errored(), SampleResults.failing());
    Path file = dir.resolve("trace.jsonl");
    TraceFile.write(results, file);

    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    List<String> scenarios = new ArrayList<>();
    List<CsiCall> calls = new ArrayList<>();
    for (String line : lines) {
      ObjectNode node = (ObjectNode) JSON.readTree(line);
      assertEquals("scenario", node.fieldNames().next(), "the scenario first, for grep and jq");
      scenarios.add(node.remove("scenario").asText());
      calls.add(JSON.treeToValue(node, CsiCall.class));
    }
    List<CsiCall> expected = new ArrayList<>(SampleResults.passing().trace());
    expected.addAll(SampleResults.failing().trace());
    assertEquals(expected, calls, "every field of every call, nulls and the in-flight -1 included");
    assertEquals(6, scenarios.stream().filter("basic-lifecycle"::equals).count());
    assertEquals(5, scenarios.stream().filter("broken-stage"::equals).count());
  }

  @Test
  void absentValuesAreNullAndTheFileIsAsciiWhateverADriverSays() throws Exception {
    Path file = dir.resolve("trace.jsonl");
    TraceFile.write(List.of(SampleResults.failing()), file);
    byte[] bytes = Files.readAllBytes(file);
    for (byte b : bytes) {
      assertTrue(b == '\n' || (b >= 0x20 && b < 0x7f), "byte " + b);
    }
    JsonNode hung = JSON.readTree(Files.readAllLines(file).get(2));
    assertTrue(hung.get("code").isNull());
    assertTrue(hung.get("mountedAfter").isNull());
    assertEquals(-1, hung.get("endMicros").asLong());
    JsonNode first = JSON.readTree(Files.readAllLines(file).get(0));
    assertEquals(SampleResults.HOSTILE, first.get("message").asText());
    assertEquals(Map.of("scenario", "broken-stage", "seq", 1, "fault", "stage-fails"),
        Map.of("scenario", first.get("scenario").asText(), "seq", first.get("seq").asInt(), "fault", first.get("fault").asText()));
  }
}
