package dev.csinode.simulator.scenario;

import dev.csinode.agent.Agent;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerView;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Waits, driven by the volume manager's snapshots, for a pod to be gone from the node: no source has it, none of its
 * volumes is published for it, and those of its volumes no other pod wants are unstaged. One listener per agent
 * (a view's listeners cannot be removed; an agent restarted brings a new view).
 */
final class TeardownWatch {
  /** What the run learnt of a pod while it was there: its uid and its volumes' unique names (null: not known). */
  record Known(String uid, Set<String> volumes) {}

  private record Waiter(VolumeManagerView view, String podKey, Known known, Promise<Void> promise) {}

  private final Vertx vertx;
  private final Set<Waiter> waiters = ConcurrentHashMap.newKeySet();
  private final Set<VolumeManagerView> watched = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

  TeardownWatch(Vertx vertx) {
    this.vertx = vertx;
  }

  /** Completes once the pod is gone as above; fails after the timeout saying what is left. */
  Future<Void> whenGone(Agent agent, String podKey, Known known, Duration timeout) {
    return watch(agent, podKey, known, timeout);
  }

  /** Completes once nothing is staged or published on the node any more (every pod deleted first). */
  Future<Void> whenNothingMounted(Agent agent, Duration timeout) {
    return watch(agent, null, null, timeout);
  }

  private Future<Void> watch(Agent agent, String podKey, Known known, Duration timeout) {
    VolumeManagerView view = agent.volumeManager().view();
    if (watched.add(view)) {
      view.onChange(() -> checkAll(view));
    }
    Promise<Void> promise = Promise.promise();
    Waiter waiter = new Waiter(view, podKey, known, promise);
    waiters.add(waiter);
    long timer = vertx.setTimer(Math.max(1, timeout.toMillis()), t -> {
      if (waiters.remove(waiter)) {
        promise.tryFail((podKey == null ? "the node" : "pod " + podKey) + " not torn down after " + timeout.toMillis()
            + " ms; still on the node: " + left(view.snapshot(), podKey, known));
      }
    });
    promise.future().onComplete(ar -> vertx.cancelTimer(timer));
    // The condition may hold already, with no snapshot to come: look once now, on the volume manager's context.
    agent.volumeManager().context().runOnContext(v -> check(waiter, view.snapshot()));
    return promise.future();
  }

  private void checkAll(VolumeManagerView view) {
    if (waiters.isEmpty()) {
      return;
    }
    Reconciler.Snapshot s = view.snapshot();
    for (Waiter w : waiters) {
      if (w.view() == view) {
        check(w, s);
      }
    }
  }

  private void check(Waiter w, Reconciler.Snapshot s) {
    if (gone(s, w.podKey(), w.known()) && waiters.remove(w)) {
      w.promise().tryComplete();
    }
  }

  static boolean gone(Reconciler.Snapshot s, String podKey, Known known) {
    if (podKey == null) {
      return s.actual().isEmpty();
    }
    if (s.desired().pods().containsKey(podKey)) {
      return false;
    }
    for (VolumeView v : s.actual()) {
      for (MountedPod p : v.pods()) {
        if (p.podKey().equals(podKey) || known != null && p.podUid().equals(known.uid())) {
          return false;
        }
      }
    }
    if (known == null || known.volumes() == null) {
      // Which volumes were its is not known: every volume no pod wants must be gone.
      return s.actual().stream().allMatch(v -> s.desired().volume(v.uniqueName()).isPresent());
    }
    return known.volumes().stream().allMatch(u -> !s.actualByName().containsKey(u) || s.desired().volume(u).isPresent());
  }

  private static List<String> left(Reconciler.Snapshot s, String podKey, Known known) {
    return s.actual().stream()
        .filter(v -> podKey == null || known == null || known.volumes() == null || known.volumes().contains(v.uniqueName())
            || v.pods().stream().anyMatch(p -> p.podKey().equals(podKey)))
        .map(v -> v.uniqueName() + " (" + v.device() + ", published for " + v.pods().stream().map(MountedPod::podKey).toList() + ")")
        .toList();
  }
}
