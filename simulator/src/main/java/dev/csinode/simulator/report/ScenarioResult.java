package dev.csinode.simulator.report;

import dev.csinode.simulator.trace.CsiCall;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one scenario run produced, for the terminal summary, JUnit, the trace file and the HTML report.
 *
 * @param error   a scenario error (the run could not go on: a step failed to execute, the driver never came up), or null
 * @param figures named measurements of the run (throughput, ready-latency percentiles), in order
 */
public record ScenarioResult(String scenario, String description, long seed, int steps, List<Check> checks,
                             List<CsiCall> trace, long durationMillis, String error, Map<String, String> figures) {
  public ScenarioResult {
    checks = List.copyOf(checks);
    trace = List.copyOf(trace);
    figures = Collections.unmodifiableMap(new LinkedHashMap<>(figures));
  }

  public boolean passed() {
    return error == null && checks.stream().allMatch(Check::passed);
  }
}
