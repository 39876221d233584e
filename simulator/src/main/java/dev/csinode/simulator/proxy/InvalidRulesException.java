package dev.csinode.simulator.proxy;

/** A rules file that cannot be used: the message says {@code file:line: what} (the rule and field when known). */
public final class InvalidRulesException extends Exception {
  public InvalidRulesException(String message) {
    super(message);
  }

  public InvalidRulesException(String message, Throwable cause) {
    super(message, cause);
  }
}
