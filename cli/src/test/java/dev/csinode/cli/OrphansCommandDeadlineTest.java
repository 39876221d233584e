package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.api.AgentApiServer;
import dev.csinode.agent.api.StubApi;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code orphans --remove} against an agent whose cleanup never finishes (its housekeeping pass held up, as by a
 * published mount whose driver hangs): the command gives up at its deadline with an error that says what to do,
 * instead of a shell that hangs.
 */
@Tag("unit")
class OrphansCommandDeadlineTest {
  @TempDir Path dir;
  Vertx vertx;
  Path socket;
  AgentApiServer server;
  final AtomicInteger cleanups = new AtomicInteger();

  /** An agent that takes every request and never ends a cleanup. */
  final StubApi api = new StubApi(StubApi.status("n", List.of(), List.of())) {
    @Override
    public Future<List<Orphan>> orphans(boolean remove) {
      if (remove) {
        cleanups.incrementAndGet();
      }
      return Promise.<List<Orphan>>promise().future();
    }
  };

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    socket = dir.resolve("api.sock");
    server = Await.result(AgentApiServer.start(vertx, socket, api));
  }

  @AfterEach
  void stop() {
    Await.result(server.stop());
    Await.result(vertx.close());
  }

  /** The guard only ends a hang (a command without a deadline); the command's own error and exit code are asserted. */
  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void aCleanupThatNeverEndsIsAnErrorAtTheDeadline() {
    long start = System.nanoTime();
    CliOutputTest.Printed p = CliOutputTest.run("orphans", "--remove", "--api-socket", socket.toString(), "--timeout", "1s");
    long tookMillis = (System.nanoTime() - start) / 1_000_000;
    assertEquals(1, p.code(), p.err());
    assertEquals("", p.out());
    assertEquals("orphans: the agent API at " + socket + " did not answer POST /v1/orphans/cleanup within 1s; is the agent"
        + " stuck? Its log may tell. The cleanup may still finish in the agent (it never removes a directory that is or"
        + " holds a mount point): run `orphans` to see what is left, and look in the agent's log for a driver or mount"
        + " that does not answer\n", p.err());
    assertEquals(1, cleanups.get(), "the cleanup was asked for once");
    assertTrue(tookMillis >= 1000 && tookMillis < 30_000, tookMillis + " ms");
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
  void theDryRunHasADeadlineToo() {
    CliOutputTest.Printed p = CliOutputTest.run("orphans", "--api-socket", socket.toString(), "--timeout", "300ms");
    assertEquals(1, p.code(), p.err());
    assertEquals("orphans: the agent API at " + socket + " did not answer GET /v1/orphans within 300ms; is the agent"
        + " stuck? Its log may tell\n", p.err());
  }

  @Test
  void aTimeoutThatIsNoDurationIsAUsageErrorBeforeAnyRequest() {
    for (String bad : List.of("soon", "-1s")) {
      CliOutputTest.Printed p = CliOutputTest.run("orphans", "--remove", "--api-socket", socket.toString(), "--timeout", bad);
      DurationOptionsTest.assertNotADuration(p, "orphans", "--timeout", bad);
    }
    for (String bad : List.of("0s", "25h")) {
      CliOutputTest.Printed p = CliOutputTest.run("orphans", "--remove", "--api-socket", socket.toString(), "--timeout", bad);
      assertEquals(2, p.code(), bad + ": " + p.err());
      assertTrue(p.err().startsWith("orphans: --timeout " + (bad.equals("0s") ? "must be more than 0" : "25h0m0s is longer than 24h")),
          p.err());
    }
    assertEquals(0, cleanups.get(), "nothing was asked of the agent");
  }
}
