package dev.csinode.grpc;

import java.nio.file.Path;

/**
 * A gRPC endpoint on a UNIX domain socket, parsed from the forms CSI and the kubelet use:
 * {@code unix:///abs/path.sock}, {@code unix:/abs/path.sock} or a plain absolute path.
 */
public record UnixEndpoint(Path path) {

  public UnixEndpoint {
    if (!path.isAbsolute()) {
      throw new IllegalArgumentException("socket path must be absolute, got '" + path + "'");
    }
    path = path.normalize();
  }

  public static UnixEndpoint parse(String endpoint) {
    if (endpoint == null || endpoint.isBlank()) {
      throw new IllegalArgumentException("endpoint is empty; expected unix:///path/to/socket or an absolute path");
    }
    String p = endpoint.trim();
    if (p.startsWith("unix://")) {
      p = p.substring("unix://".length());
    } else if (p.startsWith("unix:")) {
      p = p.substring("unix:".length());
    } else if (p.contains("://")) {
      throw new IllegalArgumentException("endpoint '" + endpoint + "' is not a UNIX socket; only unix:// endpoints are supported");
    }
    if (!p.startsWith("/")) {
      throw new IllegalArgumentException("endpoint '" + endpoint + "' must name an absolute socket path");
    }
    return new UnixEndpoint(Path.of(p));
  }

  public String url() {
    return "unix://" + path;
  }

  @Override
  public String toString() {
    return url();
  }
}
