package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One agent per root: a second agent, or an agent on a live kubelet's root, does not start (and changes nothing). */
class RootLockTest {
  @TempDir Path root;

  private Agent agent(Vertx vertx) {
    return new Agent(vertx, new Agent.Config(root, "node-l", null, null, PluginManager.Options.defaults(), null,
        VolumeManager.Options.defaults(), "", false));
  }

  @Test
  void aSecondAgentOnTheSameRootIsRefusedUntilTheFirstStops() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Agent first = agent(vertx);
      Await.result(first.start());
      Agent second = agent(vertx);
      RuntimeException refused = assertThrows(RuntimeException.class, () -> Await.result(second.start()));
      assertEquals("another csi-node-agent (pid " + ProcessHandle.current().pid() + ", this process) serves the root directory " + root
          + " (it holds " + root.resolve("csi-node-agent/agent.lock") + "); stop it first or give another --root-dir",
          rootCause(refused).getMessage());
      Await.result(second.stop()); // what run does after a failed start: it must not release the first agent's lock
      Agent third = agent(vertx);
      assertThrows(RuntimeException.class, () -> Await.result(third.start()), "the first agent still holds the root");
      Await.result(first.stop());
      Agent after = agent(vertx);
      Await.result(after.start());
      Await.result(after.stop());
    } finally {
      Await.result(vertx.close());
    }
  }

  @Test
  void aLiveKubeletOnTheRootIsRefusedADeadOneIsNot() throws Exception {
    Path socket = Files.createDirectories(root.resolve("pod-resources")).resolve("kubelet.sock");
    Vertx vertx = Vertx.vertx();
    try (ServerSocketChannel kubelet = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      kubelet.bind(UnixDomainSocketAddress.of(socket));
      RuntimeException refused = assertThrows(RuntimeException.class, () -> Await.result(agent(vertx).start()));
      assertTrue(rootCause(refused).getMessage().startsWith("a kubelet serves the root directory " + root + " (its socket "
          + socket + " answers)"), rootCause(refused).getMessage());
      assertTrue(Files.exists(socket), "the kubelet's socket is left alone");
      assertFalse(Files.exists(root.resolve("csi-node-agent")), "nothing made in the kubelet's root");
    }
    try {
      // The kubelet is gone (its socket file stays, nothing listens): the agent may start.
      Agent a = agent(vertx);
      Await.result(a.start());
      Await.result(a.stop());
    } finally {
      Await.result(vertx.close());
    }
  }

  private static Throwable rootCause(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t;
  }
}
