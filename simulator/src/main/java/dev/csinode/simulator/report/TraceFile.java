package dev.csinode.simulator.report;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.csinode.simulator.trace.CsiCall;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The trace as JSON lines: one object per CSI call, in the order of the scenarios and of the calls' arrival, with the
 * fields of {@link CsiCall} (absent values as null) after a {@code scenario} field. Every character outside ASCII
 * is written as a JSON escape, so {@code cat} or {@code grep} on the file cannot hand a driver's bidi override or
 * C1 control to the terminal; a JSON reader gets the text back as it was.
 */
public final class TraceFile {
  private static final ObjectWriter JSON = JsonMapper.builder().enable(JsonWriteFeature.ESCAPE_NON_ASCII).build().writer();

  private TraceFile() {}

  /** One line of the file. */
  record Line(String scenario, @JsonUnwrapped CsiCall call) {}

  /** Writes the file, replacing it in one step (after a crash it holds the old trace or the new). */
  public static void write(List<ScenarioResult> results, Path file) throws IOException {
    ReportFiles.replace(file, render(results));
  }

  static byte[] render(List<ScenarioResult> results) throws JsonProcessingException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (ScenarioResult r : results) {
      for (CsiCall call : r.trace()) {
        out.writeBytes(JSON.writeValueAsBytes(new Line(r.scenario(), call)));
        out.write('\n');
      }
    }
    return out.toByteArray();
  }
}
