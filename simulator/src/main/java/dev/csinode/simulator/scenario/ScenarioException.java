package dev.csinode.simulator.scenario;

/** A scenario file that cannot be run as written: the message starts with {@code file:line:column:} when known. */
public final class ScenarioException extends Exception {
  public ScenarioException(String message) {
    super(message);
  }

  public ScenarioException(String message, Throwable cause) {
    super(message, cause);
  }
}
