package dev.csinode.simulator.scenario;

/**
 * A step in its place: its number in the timeline (from 1) and where the scenario file writes it.
 */
public record ScenarioStep(int number, int line, int column, Step step) {

  ScenarioStep numbered(int n) {
    return new ScenarioStep(n, line, column, step);
  }

  /** How reports name the step, e.g. "step 4 wait-ready". */
  public String label() {
    return "step " + number + " " + step.kind();
  }
}
