package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.MountTable;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An agent upgraded on a node whose root is a link ({@code /var/lib/kubelet -> /data/kubelet}): the older version
 * recorded paths beneath the link; the new one works beneath the resolved root. What was mounted before is
 * recognised as mounted: not published again, not reported as a mount the agent did not make.
 */
class RootLinkUpgradeEndToEndTest extends AgentFixture {
  static final String UID = "77777777-aaaa-4bbb-8ccc-000000000001";
  Path linkDir;

  @AfterEach
  void removeLink() throws Exception {
    if (linkDir != null) {
      Files.deleteIfExists(linkDir.resolve("kubelet"));
      Files.deleteIfExists(linkDir);
    }
  }

  @Test
  void pathsRecordedBeneathALinkedRootAreRecognisedAfterTheUpgrade() throws Exception {
    inlinePodReady("up", UID);
    Path target = Path.of(pod("default/up").orElseThrow().volumes().get(0).hostPath());
    Await.result(agent.stop());

    // What an older version wrote when started with the root given as a link: every path beneath the link.
    linkDir = Files.createTempDirectory("cna-test-link-");
    Path link = Files.createSymbolicLink(linkDir.resolve("kubelet"), root);
    Path stateDir = root.resolve("csi-node-agent");
    try (ActualStateJournal j = new ActualStateJournal(stateDir, ActualStateJournal.currentBootId())) {
      for (ActualStateJournal.Entry e : j.readAll()) {
        List<MountedPod> pods = e.pods().stream().map(p -> new MountedPod(p.podUid(), p.podKey(), p.state(),
            link.resolve(root.relativize(Path.of(p.targetPath()))).toString())).toList();
        j.append(new ActualStateJournal.Entry(e.bootId(), e.spec(), e.attached(), e.publishContext(), e.device(),
            e.stagingPath() == null ? null : link.resolve(root.relativize(Path.of(e.stagingPath()))).toString(), pods)).get();
      }
    }

    agent = new Agent(vertx, new Agent.Config(link, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(),
        link.resolve("manifests"), options(), "127.0.0.1:0", false));
    Await.result(agent.start());
    var volumes = agent.volumeManager().volumes();
    assertEquals(1, volumes.size(), "" + volumes);
    assertEquals("published", volumes.get(0).state(), "recognised as mounted at once: " + volumes);
    eventually(() -> ready("default/up"), () -> "" + pod("default/up"));
    assertEquals(target.toString(), pod("default/up").orElseThrow().volumes().get(0).hostPath());
    for (int i = 0; i < 3; i++) { // two passes in a row confirm an unmanaged mount
      Await.result(agent.volumeManager().reconciler().housekeep(false));
    }
    assertEquals(List.of(), agent.volumeManager().reconciler().snapshot().unmanagedMounts());
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(target.toString())).count(),
        "published once, not again on top");
  }
}
