package dev.csinode.agent.operationexecutor;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
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

  /** Regression: every retry of a failing operation wrote a WARN line; now only a new or changed error does. */
  @Test
  void aRepeatedFailureIsLoggedOnceAndAgainWhenItsErrorChanges() {
    var logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(OperationExecutor.class);
    var lines = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
    lines.start();
    logger.addAppender(lines);
    try {
      OperationKey k = OperationKey.volume("v1");
      String[] errors = {"UNAVAILABLE: down", "UNAVAILABLE: down", "UNAVAILABLE: down", "NOT_FOUND: gone", "NOT_FOUND: gone"};
      for (String error : errors) {
        assertTrue(ex.tryRun(k, "volume_mount", () -> Future.failedFuture(new RuntimeException(error)), () -> { }));
        now.addAndGet(200_000);
      }
      assertTrue(ex.tryRun(k, "volume_mount", Future::succeededFuture, () -> { }));
      var warnings = lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN)
          .map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList();
      assertEquals(2, warnings.size(), "" + warnings);
      assertTrue(warnings.get(0).endsWith("UNAVAILABLE: down") && warnings.get(1).endsWith("NOT_FOUND: gone"), "" + warnings);
      assertTrue(lines.list.stream().anyMatch(e -> e.getLevel() == ch.qos.logback.classic.Level.INFO
          && e.getFormattedMessage().contains("succeeded after 5 failed attempt(s)")), "the recovery is one line too");
    } finally {
      logger.detachAppender(lines);
    }
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

  static OperationException away(String driver) {
    return new OperationException("CSI driver " + driver + " is not registered", false, null, driver);
  }

  @Test
  void aDriverBackEndsTheBackoffOfWhatFailedBecauseItWasAwayOnly() {
    OperationKey waiting = OperationKey.volume("v1");
    OperationKey otherDriver = OperationKey.volume("v2");
    OperationKey otherCause = OperationKey.volume("v3");
    for (int i = 0; i < 5; i++) { // deep into the backoff: 8 s
      now.addAndGet(200_000);
      ex.tryRun(waiting, "volume_mount", () -> Future.failedFuture(away("a.example.com")), () -> { });
    }
    ex.tryRun(otherDriver, "volume_mount", () -> Future.failedFuture(away("b.example.com")), () -> { });
    ex.tryRun(otherCause, "volume_mount", () -> Future.failedFuture(new OperationException("NOT_FOUND: no such volume", false)), () -> { });
    assertEquals("a.example.com", ex.lastFailure(waiting).orElseThrow().waitsForDriver());
    assertTrue(ex.blocked(waiting, "volume_mount").isPresent());

    assertEquals(1, ex.driverAvailable("a.example.com"));
    assertTrue(ex.blocked(waiting, "volume_mount").isEmpty(), "due at once");
    assertTrue(ex.blocked(otherDriver, "volume_mount").isPresent(), "another driver's return is not this one's");
    assertTrue(ex.blocked(otherCause, "volume_mount").isPresent(), "a failure of another cause keeps its backoff");
    ex.tryRun(waiting, "volume_mount", () -> Future.failedFuture(away("a.example.com")), () -> { });
    assertEquals(now.get() + 500, ex.lastFailure(waiting).orElseThrow().notBeforeMillis(), "the backoff starts afresh");
  }

  @Test
  void aDriverThatCameBackWhileTheOperationRanMakesItsFailureDueAtOnce() {
    OperationKey k = OperationKey.volume("v1");
    Promise<Void> running = Promise.promise();
    assertTrue(ex.tryRun(k, "volume_mount", running::future, () -> { }));
    assertEquals(0, ex.driverAvailable("a.example.com"), "nothing failed yet");
    running.fail(away("a.example.com")); // the call was made while it was away; the answer comes after its return
    assertTrue(ex.blocked(k, "volume_mount").isEmpty(), "no backoff to wait out: no later return would end it");
    assertTrue(ex.tryRun(k, "volume_mount", () -> Future.failedFuture(away("a.example.com")), () -> { }));
    assertTrue(ex.blocked(k, "volume_mount").isPresent(), "away again without a new return: the backoff applies");
  }
}
