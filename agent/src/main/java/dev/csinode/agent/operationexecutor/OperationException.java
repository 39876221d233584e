package dev.csinode.agent.operationexecutor;

/** A volume operation failed; {@code uncertain} when what it did on the node is unknown. */
public final class OperationException extends RuntimeException {
  private final boolean uncertain;

  public OperationException(String message, boolean uncertain) {
    super(message);
    this.uncertain = uncertain;
  }

  public boolean uncertain() {
    return uncertain;
  }
}
