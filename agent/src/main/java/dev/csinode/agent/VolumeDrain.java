package dev.csinode.agent;

import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerView;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;

/**
 * {@code --drain-on-exit}: every volume torn down (unpublish, unstage, detach) before the agent stops; the kubelet
 * leaves volumes mounted. The pod sources must be stopped first.
 */
final class VolumeDrain {
  private VolumeDrain() {}

  /**
   * Empties the desired state and completes when nothing is left (then the pods' directories, orphans now, are
   * removed as at any resync when {@code removeOrphans}), or fails when the timeout passes.
   */
  static Future<Void> drain(Vertx vertx, Reconciler reconciler, VolumeManagerView view, boolean removeOrphans, Duration timeout) {
    reconciler.update(DesiredStateOfWorld.EMPTY);
    Promise<Void> done = Promise.promise();
    long deadline = System.currentTimeMillis() + timeout.toMillis();
    vertx.setPeriodic(50, t -> {
      var s = view.snapshot();
      if (s.actual().isEmpty() && s.desired().volumes().isEmpty()) {
        vertx.cancelTimer(t);
        (removeOrphans ? reconciler.housekeep(true).<Void>mapEmpty().otherwiseEmpty() : Future.<Void>succeededFuture())
            .onComplete(x -> done.tryComplete());
      } else if (System.currentTimeMillis() > deadline) {
        vertx.cancelTimer(t);
        done.tryFail("volumes still mounted after " + timeout.toSeconds() + " s: " + view.volumes());
      }
    });
    return done.future();
  }
}
