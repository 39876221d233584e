package dev.csinode.agent.status;

import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code pod wait}: runtimes waiting for a pod's volumes. Event driven: every waiting pod is looked at when the view
 * has a new snapshot, not polled. State on one context (the reconciler's).
 */
public final class PodWaiters {
  /** A pod a runtime waits for, until ready, in error or out of time. */
  private record Waiter(String podKey, Promise<PodStatus> promise, long timer) {}

  private final Context context;
  private final VolumeManagerView view;
  private final List<Waiter> waiters = new ArrayList<>();

  /** Listens to the view's snapshots; {@code context} must be the one they are published on. */
  public PodWaiters(Context context, VolumeManagerView view) {
    this.context = context;
    this.view = view;
    view.onChange(this::checkAll);
  }

  /** Why a wait ended without a ready pod: {@code timedOut}, or the pod has errors. */
  public static final class WaitException extends RuntimeException {
    private final boolean timedOut;

    WaitException(boolean timedOut, String message) {
      super(message);
      this.timedOut = timedOut;
    }

    public boolean timedOut() {
      return timedOut;
    }
  }

  /**
   * Completes with the pod's status once all its volumes are published; fails at once when the pod has errors
   * that only a change of its objects can fix, and after the timeout otherwise, saying what it still waits for.
   */
  public Future<PodStatus> whenReady(String podKey, Duration timeout) {
    Promise<PodStatus> promise = Promise.promise();
    context.runOnContext(x -> {
      if (check(podKey, promise)) {
        return;
      }
      long timer = context.owner().setTimer(Math.max(1, timeout.toMillis()), t -> {
        waiters.removeIf(w -> w.promise() == promise);
        String why = view.pod(podKey).map(p -> {
          List<String> parts = new ArrayList<>(p.waiting());
          p.volumes().stream().filter(v -> !v.state().equals("published"))
              .forEach(v -> parts.add(v.name() + " is " + v.state() + (v.lastError() == null ? "" : " (" + v.lastError() + ")")));
          return parts.toString();
        }).orElse("the pod is unknown");
        promise.tryFail(new WaitException(true, "pod " + podKey + " not ready after " + timeout.toMillis() + " ms: " + why));
      });
      waiters.add(new Waiter(podKey, promise, timer));
    });
    return promise.future();
  }

  /** True when the wait is over (ready or failed). */
  private boolean check(String podKey, Promise<PodStatus> promise) {
    Reconciler.Snapshot s = view.snapshot();
    PodVolumes pv = s.desired().pods().get(podKey);
    if (pv == null) {
      return false;
    }
    if (!pv.errors().isEmpty()) {
      promise.tryFail(new WaitException(false, "pod " + podKey + " cannot get ready: " + String.join("; ", pv.errors())));
      return true;
    }
    if (!VolumeManagerView.allPublished(s, pv)) {
      return false;
    }
    PodStatus status = VolumeManagerView.podStatus(s, pv);
    if (status.ready()) {
      promise.tryComplete(status);
      return true;
    }
    return false;
  }

  private void checkAll() {
    if (!waiters.isEmpty()) {
      waiters.removeIf(w -> {
        boolean over = check(w.podKey(), w.promise());
        if (over) {
          context.owner().cancelTimer(w.timer());
        }
        return over;
      });
    }
  }
}
