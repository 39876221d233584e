package dev.csinode.cli;

import java.nio.file.Path;

/**
 * Defaults of the demo commands that name places in the checkout ({@code var/lib/kubelet},
 * {@code examples/manifests}). scripts/csi-node-agent exports the checkout as {@code CSI_NODE_AGENT_HOME}, so a
 * demo started from any directory uses the checkout's, while a path the user gives is taken, as any command-line
 * path, relative to the user's working directory.
 */
final class CheckoutPaths {
  static final String HOME_VARIABLE = "CSI_NODE_AGENT_HOME";

  private CheckoutPaths() {
  }

  /** {@code given} made absolute, or, when it was not given, {@code defaultInCheckout} in the checkout. */
  static Path resolve(Path given, String defaultInCheckout) {
    if (given != null) {
      return given.toAbsolutePath().normalize();
    }
    String home = System.getenv(HOME_VARIABLE);
    Path base = home == null || home.isEmpty() ? Path.of("") : Path.of(home);
    return base.resolve(defaultInCheckout).toAbsolutePath().normalize();
  }
}
