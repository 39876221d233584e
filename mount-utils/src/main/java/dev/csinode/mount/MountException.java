package dev.csinode.mount;

/** A host mount, unmount, loop or filesystem operation failed; the message names the object and the cause. */
public class MountException extends RuntimeException {
  private final int errno;

  public MountException(String message) {
    this(message, 0);
  }

  public MountException(String message, int errno) {
    super(message);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }
}
