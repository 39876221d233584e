package dev.csinode.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Tests that mount must run in a private mount namespace so that nothing they mount can leak onto the host.
 * scripts/test.sh records the host's namespace in CSI_TEST_HOST_MNT_NS before it enters a private one;
 * a test refuses to mount unless it runs in another namespace than that.
 */
public final class PrivateMountNamespace {
  private PrivateMountNamespace() {}

  public static void require() {
    String host = System.getenv("CSI_TEST_HOST_MNT_NS");
    if (host == null || host.isBlank()) {
      throw new AssertionError("this test mounts and must run in a private mount namespace; "
          + "run the suite with scripts/test.sh (it wraps Maven in 'unshare --mount --propagation private')");
    }
    try {
      String self = Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")).toString();
      if (self.equals(host)) {
        throw new AssertionError("still in the host's mount namespace " + host + "; refusing to mount");
      }
    } catch (IOException e) {
      throw new AssertionError("cannot read /proc/self/ns/mnt: " + e.getMessage());
    }
  }
}
