package dev.csinode.agent.operationexecutor;

/**
 * A volume operation failed; {@code uncertain} when what it did on the node is unknown; {@code unavailableDriver}
 * names the driver when the failure came from that driver being away (not registered, unreachable, unhealthy),
 * so the operation is retried as soon as the driver is back rather than after its backoff.
 */
public final class OperationException extends RuntimeException {
  private final boolean uncertain;
  private final String unavailableDriver;

  public OperationException(String message, boolean uncertain) {
    this(message, uncertain, null, "");
  }

  public OperationException(String message, boolean uncertain, Throwable cause, String unavailableDriver) {
    super(message, cause);
    this.uncertain = uncertain;
    this.unavailableDriver = unavailableDriver;
  }

  public boolean uncertain() {
    return uncertain;
  }

  /** The driver whose absence caused the failure, or empty. */
  public String unavailableDriver() {
    return unavailableDriver;
  }
}
