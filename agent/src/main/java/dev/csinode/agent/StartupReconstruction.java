package dev.csinode.agent;

import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.reconciler.VolumeReconstruction;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.agent.volume.VolumeDirectories;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The actual state at start, from the journal and the host: what is correctly mounted is not staged or published
 * again; what is doubtful is UNCERTAIN; what the disk shows mounted and the journal does not know (a lost state
 * directory, a root taken over from a kubelet) is added as UNCERTAIN too. The host is read off the event loop, the
 * result applied on the reconciler's context.
 */
final class StartupReconstruction {
  private static final Logger LOG = LoggerFactory.getLogger(StartupReconstruction.class);

  private final Context context;
  private final KubeletLayout layout;
  private final ActualStateJournal journal;
  private final ActualStateOfWorld asw;
  private final Counter reconstructed;
  private final Counter reconstructErrors;
  private final MountPoints mounts;

  StartupReconstruction(Context context, KubeletLayout layout, ActualStateJournal journal, ActualStateOfWorld asw,
                        MountPoints mounts, PrometheusRegistry metrics) {
    this.mounts = mounts;
    this.context = context;
    this.layout = layout;
    this.journal = journal;
    this.asw = asw;
    this.reconstructed = Counter.builder().name("reconstruct_volume_operations_total")
        .help("Volumes rebuilt from the journal at start").register(metrics);
    this.reconstructErrors = Counter.builder().name("reconstruct_volume_operations_errors_total")
        .help("Journal records that could not be used at start").register(metrics);
  }

  /** What was found rebuilt into the actual state; completes on the context with the pod that held each uid. */
  Future<Map<String, String>> run() {
    return context.owner().executeBlocking(() -> {
      var entries = ActualStateJournal.rebased(journal.readAll(), layout.rootDir().given(), layout.root());
      ActualStateOfWorld scratch = new ActualStateOfWorld();
      ActualStateJournal.reconstruct(entries, journal.bootId(), mounts::isMountPoint, scratch);
      VolumeDirectories.Scan scan = VolumeDirectories.scan(layout, mounts::isMountPoint);
      scan.problems().forEach(p -> LOG.warn("reconstruction: {}", p));
      for (String unique : VolumeReconstruction.addFromDisk(scan, layout, scratch)) {
        LOG.info("volume {} found mounted on disk but not in the journal: uncertain until set up again or torn down", unique);
      }
      return new Found(scratch, scan.problems().size());
    }, false).compose(found -> {
      Promise<Map<String, String>> applied = Promise.promise();
      context.runOnContext(x -> applied.complete(apply(found)));
      return applied.future();
    });
  }

  private record Found(ActualStateOfWorld rebuilt, int diskProblems) {}

  private Map<String, String> apply(Found found) {
    for (var v : found.rebuilt().volumes()) {
      var target = asw.getOrAdd(v.spec);
      target.attached = v.attached;
      target.publishContext = v.publishContext;
      target.device = v.device;
      target.stagingPath = v.stagingPath;
      target.pods.putAll(v.pods);
      reconstructed.inc();
      LOG.info("reconstructed volume {} (driver {}): device {}, pods {}", v.spec.specName(), v.spec.driver(), v.device,
          v.pods.values().stream().map(p -> p.podKey() + "=" + p.state()).toList());
    }
    reconstructErrors.inc(journal.skippedRecords() + found.diskProblems());
    // A uid claimed by several pods stays with the pod that held it before the restart.
    Map<String, String> holders = new HashMap<>();
    asw.volumes().forEach(v -> v.pods.values().forEach(p -> {
      if (!p.podKey().equals(p.podUid())) {
        holders.put(p.podUid(), p.podKey());
      }
    }));
    return holders;
  }
}
