package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.Await;
import dev.csinode.testing.DiskFiller;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The agent's state directory on a small disk that fills up: the node keeps serving and tearing down. */
class FullStateDiskEndToEndTest extends AgentFixture {

  private static final String SECRET = """
      apiVersion: v1
      kind: Secret
      metadata: {name: %s, namespace: default}
      stringData: {k: v}
      """;

  @Test
  void startsServesStatusAndTeardownOnAFullStateDiskAndWritesAgainWhenSpaceFrees() throws Exception {
    // The state directory on a disk of its own, as a node's /var may be.
    Await.result(agent.stop());
    Path state = root.resolve("csi-node-agent");
    new Mounter().mount("tmpfs", state, "tmpfs", List.of("size=512k", "mode=0700"), false);
    agent = newAgent();
    Await.result(agent.start());
    eventually(() -> agent.drivers().get(DRIVER).isPresent(), () -> "driver not registered: " + agent.status());
    inlinePodReady("full", "uid-full");
    assertEquals(List.of("Secret default/s1"), Await.result(agent.apply(SECRET.formatted("s1"))).applied());
    Await.result(agent.stop());

    Path filler = DiskFiller.fill(state);
    agent = newAgent();
    Await.result(agent.start()); // today: "cannot open the journal": the agent exits
    eventually(() -> agent.drivers().get(DRIVER).isPresent(), () -> "driver not registered: " + agent.status());
    var degraded = agent.status().degradedRecords();
    assertTrue(degraded.stream().anyMatch(d -> d.file().endsWith("journal.log") && d.problem().contains("No space left")),
        degraded.toString());
    String metrics = scrape();
    assertTrue(metrics.lines().anyMatch(l -> l.startsWith("csi_node_agent_degraded_records ") && !l.endsWith(" 0.0")), metrics);
    assertTrue(ready("default/full"), "what was mounted is known: " + pod("default/full"));

    // A change the agent cannot record is refused, not acknowledged.
    // (Larger than what is left of the log's last page: a small one could still fit in it.)
    var refused = agent.apply(SECRET.formatted("s2") + "data: {big: " + "QUFB".repeat(4096) + "}\n").toCompletionStage().toCompletableFuture();
    var err = assertThrows(java.util.concurrent.ExecutionException.class, () -> refused.get(30, java.util.concurrent.TimeUnit.SECONDS));
    assertTrue(err.getCause().getMessage().contains("api-objects.log") && err.getCause().getMessage().contains("No space left"),
        err.getCause().getMessage());

    // Teardown goes on.
    String target = pod("default/full").orElseThrow().volumes().get(0).hostPath();
    Files.delete(manifests.resolve("full.yaml"));
    eventually(() -> pod("default/full").isEmpty(), () -> "pod not torn down: " + pod("default/full"));
    eventually(() -> MountTable.read().under(root.resolve("pods")).isEmpty(), () -> "still mounted: " + target);

    // Space again: the records heal by themselves, and changes are recorded again.
    Files.delete(filler);
    eventually(() -> agent.status().degradedRecords().isEmpty(), () -> "still degraded: " + agent.status().degradedRecords());
    assertEquals(List.of("Secret default/s3"), Await.result(agent.apply(SECRET.formatted("s3"))).applied());
    Await.result(agent.stop());
    agent = newAgent();
    Await.result(agent.start());
    String stored = Files.readString(state.resolve("api-objects.log"));
    assertTrue(stored.contains("s1") && stored.contains("s3") && !stored.contains("\"s2\""), stored);
  }
}
