package dev.csinode.simulator.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Real-mount simulation mounts, unmounts and "reboots" (unmounts everything beneath its root): in the host's
 * mount namespace that would reach the host's own mount table, so it runs only in a namespace of its own.
 */
public final class MountNamespace {
  static final String REFUSAL = "simulate with real mounts must run in a private mount namespace: run it through "
      + "scripts/csi-node-agent (which uses unshare --mount --propagation private)";
  /** The host's namespace as scripts/test.sh records it before it unshares. */
  static final String RECORDED_HOST_NS = "CSI_TEST_HOST_MNT_NS";
  /** Set by scripts/csi-node-agent right before it re-runs itself under unshare. */
  static final String LAUNCHER_UNSHARED = "CSI_NODE_AGENT_PRIVATE_NS";

  private MountNamespace() {}

  /**
   * Throws unless this process's mount namespace differs from init's (pid 1's). Where pid 1's cannot be read (a
   * container without ptrace rights over it), the host's namespace recorded by the test script is compared instead,
   * or the launcher's word that it unshared is taken.
   */
  public static void requirePrivate() {
    requirePrivate(Path.of("/proc/self/ns/mnt"), Path.of("/proc/1/ns/mnt"), System.getenv());
  }

  static void requirePrivate(Path self, Path init, Map<String, String> env) {
    String ours;
    try {
      ours = Files.readSymbolicLink(self).toString();
    } catch (IOException | UnsupportedOperationException e) {
      throw new IllegalStateException(REFUSAL + " (cannot read " + self + ": " + e + ")", e);
    }
    String reference;
    String whose;
    try {
      reference = Files.readSymbolicLink(init).toString();
      whose = "pid 1's";
    } catch (IOException | UnsupportedOperationException e) {
      String recorded = env.get(RECORDED_HOST_NS);
      if (recorded != null && !recorded.isBlank()) {
        reference = recorded.trim();
        whose = "the host's (" + RECORDED_HOST_NS + ")";
      } else if ("1".equals(env.get(LAUNCHER_UNSHARED))) {
        return;
      } else {
        throw new IllegalStateException(REFUSAL + " (cannot compare " + self + " with " + init + ": " + e + ")", e);
      }
    }
    if (ours.equals(reference)) {
      throw new IllegalStateException(REFUSAL + " (this process shares " + whose + " mount namespace " + reference + ")");
    }
  }
}
