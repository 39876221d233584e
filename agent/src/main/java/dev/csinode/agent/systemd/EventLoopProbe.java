package dev.csinode.agent.systemd;

import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.internal.VertxInternal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Whether every event loop of a Vert.x instance runs: a task is put on each loop and must run within the deadline.
 * A loop stuck in blocking work (or a deadlock) never runs it, and the watchdog stops its pings for it.
 */
public final class EventLoopProbe {
  private final Vertx vertx;

  public EventLoopProbe(Vertx vertx) {
    this.vertx = vertx;
  }

  /**
   * Blocking, from a thread that is not an event loop: true when every loop ran the task in time.
   *
   * @return false also when the instance is closed (nothing to run the tasks)
   */
  public boolean allAnswer(Duration deadline) throws InterruptedException {
    List<EventExecutor> loops = new ArrayList<>();
    ((VertxInternal) vertx).nettyEventLoopGroup().forEach(loops::add);
    if (loops.isEmpty()) {
      return false;
    }
    CountDownLatch answered = new CountDownLatch(loops.size());
    for (EventExecutor loop : loops) {
      if (loop.isShuttingDown()) {
        return false;
      }
      try {
        loop.execute(answered::countDown);
      } catch (RuntimeException rejected) {
        return false;
      }
    }
    return answered.await(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }
}
