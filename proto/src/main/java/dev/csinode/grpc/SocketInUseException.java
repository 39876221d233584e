package dev.csinode.grpc;

import java.nio.file.Path;

/** Refusal to bind a socket path that is served by a live process or is not a socket at all. */
public final class SocketInUseException extends RuntimeException {
  private final Path path;

  public SocketInUseException(Path path, String message) {
    super(message);
    this.path = path;
  }

  public Path path() {
    return path;
  }
}
