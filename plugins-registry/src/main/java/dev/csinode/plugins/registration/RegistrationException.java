package dev.csinode.plugins.registration;

/** A registration attempt failed; {@code stale} when nothing listens on the registration socket. */
public final class RegistrationException extends RuntimeException {
  private final boolean stale;

  public RegistrationException(String reason, boolean stale) {
    super(reason);
    this.stale = stale;
  }

  public boolean stale() {
    return stale;
  }
}
