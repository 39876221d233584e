package dev.csinode.agent;

import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.populator.DesiredStateOfWorldPopulator;
import dev.csinode.agent.provisioner.ClaimBinding;
import dev.csinode.agent.provisioner.Provisioner;
import dev.csinode.agent.reconciler.Reconciler;
import io.vertx.core.Context;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * The volume manager's stages in the one direction data flows: pod sources → claim binding ({@link Provisioner}) →
 * desired state ({@link DesiredStateOfWorldPopulator}) → {@link Reconciler}. Each run reads the sources' latest
 * objects and passes each stage's output to the next; no stage calls another. The one place changes are coalesced:
 * changes that arrive while a run waits collapse into it, so a burst of a thousand pod changes costs a few runs, not
 * a thousand. Runs on the volume manager's context.
 */
final class VolumePipeline {
  /**
   * How long a stage's own change (a volume created, a backoff over) waits for others: with a thousand claims
   * provisioned in a burst, one run per 20 ms, not one per claim. A change of the sources runs at once, unless a
   * run for a stage's change is already due: it joins that one.
   */
  static final long STAGE_CHANGE_DELAY_MS = 20;

  private final Context context;
  private final Provisioner claimBinding;
  private final DesiredStateOfWorldPopulator populator;
  private final Reconciler reconciler;
  private final AtomicBoolean pending = new AtomicBoolean();
  private volatile Supplier<ClusterObjects> sources;
  private volatile ClusterObjects bound = ClusterObjects.EMPTY;
  private volatile boolean stopped;

  VolumePipeline(Context context, Provisioner claimBinding, DesiredStateOfWorldPopulator populator, Reconciler reconciler) {
    this.context = context;
    this.claimBinding = claimBinding;
    this.populator = populator;
    this.reconciler = reconciler;
  }

  /** The pod sources changed; {@code read} gives their objects when the run comes (any thread). */
  void sourcesChanged(Supplier<ClusterObjects> read) {
    sources = read;
    request(0);
  }

  /**
   * A stage's own state changed (a volume created or deleted, a driver registered, a backoff over): run again
   * soon. Nothing runs before the sources delivered: an empty start must not look like every object was deleted.
   */
  void stageChanged() {
    if (sources != null) {
      request(STAGE_CHANGE_DELAY_MS);
    }
  }

  /** The objects the desired state was last built from: the sources' with claims bound. */
  ClusterObjects objects() {
    return bound;
  }

  /** Nothing flows any more (a drain empties the desired state itself; a stop ends everything). */
  void stop() {
    stopped = true;
  }

  private void request(long delayMillis) {
    if (pending.compareAndSet(false, true)) {
      context.runOnContext(v -> {
        if (delayMillis == 0) {
          run();
        } else {
          context.owner().setTimer(delayMillis, t -> run());
        }
      });
    }
  }

  private void run() {
    pending.set(false);
    if (stopped) {
      return;
    }
    ClaimBinding binding = claimBinding.bind(sources.get());
    bound = binding.objects();
    reconciler.update(populator.build(binding.objects(), binding.errors(), binding.retrying()));
  }
}
