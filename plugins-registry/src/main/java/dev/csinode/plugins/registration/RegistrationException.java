package dev.csinode.plugins.registration;

/**
 * A registration attempt failed; {@code stale} when nothing listens on the registration socket;
 * {@code conflictingDriver} non-empty when the name it announces is registered from another socket.
 */
public final class RegistrationException extends RuntimeException {
  private final boolean stale;
  private final String conflictingDriver;

  public RegistrationException(String reason, boolean stale) {
    this(reason, stale, "");
  }

  private RegistrationException(String reason, boolean stale, String conflictingDriver) {
    super(reason);
    this.stale = stale;
    this.conflictingDriver = conflictingDriver;
  }

  /** Refused because driver {@code name} is registered from another socket at an equal or higher version. */
  public static RegistrationException conflict(String name, String reason) {
    return new RegistrationException(reason, false, name);
  }

  public boolean stale() {
    return stale;
  }

  public boolean conflict() {
    return !conflictingDriver.isEmpty();
  }

  public String conflictingDriver() {
    return conflictingDriver;
  }
}
