package dev.csinode.simulator.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Real-mount simulation mounts, unmounts and "reboots" (unmounts everything beneath its root): in the host's
 * mount namespace that would reach the host's own mount table, so it runs only in a namespace of its own.
 */
public final class MountNamespace {
  static final String REFUSAL = "simulate with real mounts must run in a private mount namespace: run it through "
      + "scripts/csi-node-agent (which uses unshare --mount --propagation private)";

  private MountNamespace() {}

  /** Throws unless this process's mount namespace differs from init's (pid 1's). */
  public static void requirePrivate() {
    requirePrivate(Path.of("/proc/self/ns/mnt"), Path.of("/proc/1/ns/mnt"));
  }

  static void requirePrivate(Path self, Path init) {
    String ours;
    String hosts;
    try {
      ours = Files.readSymbolicLink(self).toString();
      hosts = Files.readSymbolicLink(init).toString();
    } catch (IOException | UnsupportedOperationException e) {
      throw new IllegalStateException(REFUSAL + " (cannot compare " + self + " with " + init + ": " + e + ")", e);
    }
    if (ours.equals(hosts)) {
      throw new IllegalStateException(REFUSAL + " (this process shares pid 1's mount namespace " + hosts + ")");
    }
  }
}
