package dev.csinode.agent.operationexecutor;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class OperationExecutorTest {
  final AtomicLong now = new AtomicLong(1_000_000);
  final OperationExecutor ex = new OperationExecutor(2, Duration.ofMillis(500), Duration.ofMillis(122_000), now::get);

  @Test
  void aVolumeWideOperationExcludesPodOperationsOnTheSameVolumeOnly() {
    Promise<Void> p = Promise.promise();
    assertTrue(ex.tryRun(OperationKey.volume("v1"), "volume_mount", p::future, () -> { }));
    assertTrue(ex.blocked(new OperationKey("v1", "pod-a"), "volume_unmount").isPresent());
    assertTrue(ex.blocked(OperationKey.volume("v1"), "unmount_device").isPresent());
    assertTrue(ex.blocked(new OperationKey("v2", "pod-a"), "volume_unmount").isEmpty());
    p.complete();
    assertTrue(ex.blocked(new OperationKey("v1", "pod-a"), "volume_unmount").isEmpty());
  }

  @Test
  void podOperationsOfDifferentPodsRunTogetherUpToTheLimit() {
    assertTrue(ex.tryRun(new OperationKey("v1", "a"), "volume_unmount", () -> Promise.<Void>promise().future(), () -> { }));
    assertTrue(ex.tryRun(new OperationKey("v1", "b"), "volume_unmount", () -> Promise.<Void>promise().future(), () -> { }));
    assertTrue(ex.blocked(new OperationKey("v9", "c"), "volume_unmount").orElseThrow().contains("limit of 2"));
  }

  @Test
  void failuresOfKeysThatNoLongerMatterAreForgottenButNotWhileRunning() {
    OperationKey gone = new OperationKey("v1", "gone-pod");
    OperationKey kept = new OperationKey("v1", "kept-pod");
    OperationKey busy = new OperationKey("v2", "busy-pod");
    ex.tryRun(gone, "volume_mount", () -> Future.failedFuture(new RuntimeException("failed")), () -> { });
    ex.tryRun(kept, "volume_mount", () -> Future.failedFuture(new RuntimeException("failed")), () -> { });
    ex.tryRun(busy, "volume_mount", () -> Future.failedFuture(new RuntimeException("failed")), () -> { });
    now.addAndGet(10_000);
    Promise<Void> running = Promise.promise();
    assertTrue(ex.tryRun(busy, "volume_mount", running::future, () -> { }));
    ex.retainFailures(k -> k.equals(kept));
    assertTrue(ex.lastFailure(gone).isEmpty());
    assertTrue(ex.lastFailure(kept).isPresent());
    assertTrue(ex.lastFailure(busy).isPresent(), "a running operation keeps its history until it finishes");
    running.complete();
    assertTrue(ex.lastFailure(busy).isEmpty(), "and a success clears it");
  }

  @Test
  void failuresBackOffDoublingToTheCapAndSuccessResets() {
    OperationKey k = OperationKey.volume("v1");
    long[] expected = {500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 122000, 122000};
    for (long delay : expected) {
      assertTrue(ex.tryRun(k, "volume_mount", () -> Future.failedFuture(new RuntimeException("NOT_FOUND: no such volume")), () -> { }));
      assertEquals(now.get() + delay, ex.lastFailure(k).orElseThrow().notBeforeMillis());
      assertTrue(ex.blocked(k, "volume_mount").orElseThrow().contains("NOT_FOUND"));
      now.addAndGet(delay - 1);
      assertTrue(ex.blocked(k, "volume_mount").isPresent(), "still in backoff 1 ms before it ends");
      now.addAndGet(1);
    }
    assertTrue(ex.tryRun(k, "volume_mount", Future::succeededFuture, () -> { }));
    assertTrue(ex.lastFailure(k).isEmpty());
  }

  @Test
  void aDifferentOperationOnTheKeyIsNotHeldByAnotherOperationsBackoff() {
    OperationKey k = OperationKey.volume("v1");
    ex.tryRun(k, "volume_mount", () -> Future.failedFuture(new RuntimeException("stage failed")), () -> { });
    assertTrue(ex.blocked(k, "volume_mount").isPresent());
    assertTrue(ex.blocked(k, "unmount_device").isEmpty(), "teardown of an uncertain stage must not wait for the mount's backoff");
    ex.tryRun(k, "unmount_device", () -> Future.failedFuture(new RuntimeException("x")), () -> { });
    assertEquals(1, ex.lastFailure(k).orElseThrow().failures(), "a different operation starts its backoff afresh");
  }
}
