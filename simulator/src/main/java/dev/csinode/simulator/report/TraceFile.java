package dev.csinode.simulator.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Stand-in (engine branch) for the reports helper's TraceFile; the merge takes theirs. */
public final class TraceFile {
  private TraceFile() {}

  public static void write(List<ScenarioResult> results, Path file) throws IOException {
    throw new UnsupportedOperationException("to be written");
  }
}
