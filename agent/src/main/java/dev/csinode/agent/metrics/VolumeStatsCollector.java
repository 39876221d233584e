package dev.csinode.agent.metrics;

import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.csi.v1.NodeGetVolumeStatsRequest;
import dev.csinode.csi.v1.NodeGetVolumeStatsResponse;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.VolumeUsage;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kubelet's {@code kubelet_volume_stats_*} gauges: every period, NodeGetVolumeStats for each published
 * volume that backs a claim, through drivers with GET_VOLUME_STATS, one call at a time. Gauges show the last
 * answer, labelled by the claim's namespace and name; a volume that is gone, or whose driver stopped answering,
 * drops out rather than showing stale figures.
 */
public final class VolumeStatsCollector {
  private static final Logger LOG = LoggerFactory.getLogger(VolumeStatsCollector.class);
  static final String GET_VOLUME_STATS = "GET_VOLUME_STATS";

  /** One claim's figures; -1 where the driver did not report that unit. */
  public record Stats(String namespace, String claim, long capacityBytes, long availableBytes, long usedBytes, long inodes,
                      long inodesFree, long inodesUsed) {}

  private final Vertx vertx;
  private final Supplier<Reconciler.Snapshot> state;
  private final DriverRegistry drivers;
  private final CsiNodeClient csi;
  private final Duration period;
  private final Histogram duration;
  private volatile Map<String, Stats> latest = Map.of();
  private long timer = -1;
  private boolean running;

  public VolumeStatsCollector(Vertx vertx, Supplier<Reconciler.Snapshot> state, DriverRegistry drivers, CsiNodeClient csi,
                              Duration period, PrometheusRegistry registry) {
    this.vertx = vertx;
    this.state = state;
    this.drivers = drivers;
    this.csi = csi;
    this.period = period;
    this.duration = Histogram.builder().name("kubelet_volume_metric_collection_duration_seconds")
        .help("Duration of collecting the stats of one volume").labelNames("metric_source")
        .classicUpperBounds(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10).register(registry);
    gauge(registry, "kubelet_volume_stats_capacity_bytes", "Capacity in bytes of the volume", Stats::capacityBytes);
    gauge(registry, "kubelet_volume_stats_available_bytes", "Number of available bytes in the volume", Stats::availableBytes);
    gauge(registry, "kubelet_volume_stats_used_bytes", "Number of used bytes in the volume", Stats::usedBytes);
    gauge(registry, "kubelet_volume_stats_inodes", "Maximum number of inodes in the volume", Stats::inodes);
    gauge(registry, "kubelet_volume_stats_inodes_free", "Number of free inodes in the volume", Stats::inodesFree);
    gauge(registry, "kubelet_volume_stats_inodes_used", "Number of used inodes in the volume", Stats::inodesUsed);
  }

  private void gauge(PrometheusRegistry registry, String name, String help, ToLongFunction<Stats> value) {
    GaugeWithCallback.builder().name(name).help(help).labelNames("namespace", "persistentvolumeclaim")
        .callback(cb -> latest.values().forEach(s -> {
          long v = value.applyAsLong(s);
          if (v >= 0) {
            cb.call(v, s.namespace(), s.claim());
          }
        })).register(registry);
  }

  public void start() {
    // The first round one period after start: a restart has better things to do than asking every volume's stats.
    timer = vertx.setPeriodic(period.toMillis(), t -> collect());
  }

  public void stop() {
    vertx.cancelTimer(timer);
  }

  public Map<String, Stats> latest() {
    return latest;
  }

  /** One round; skipped while the previous one still runs (a slow driver must not pile calls up). */
  Future<Void> collect() {
    if (running) {
      return Future.succeededFuture();
    }
    running = true;
    Map<String, Stats> next = new HashMap<>();
    Future<Void> chain = Future.succeededFuture();
    for (VolumeView v : state.get().actual()) {
      String claim = v.spec().claimKey();
      MountedPod pod = v.pods().stream().filter(p -> p.state() == MountState.MOUNTED).findFirst().orElse(null);
      RegisteredDriver d = drivers.get(v.spec().driver()).orElse(null);
      if (claim == null || pod == null || d == null || !d.hasNodeCapability(GET_VOLUME_STATS)) {
        continue;
      }
      NodeGetVolumeStatsRequest.Builder req = NodeGetVolumeStatsRequest.newBuilder().setVolumeId(v.spec().volumeHandle())
          .setVolumePath(pod.targetPath());
      if (v.stagingPath() != null) {
        req.setStagingTargetPath(v.stagingPath());
      }
      chain = chain.compose(x -> {
        long start = System.nanoTime();
        return csi.call(d.name(), d.endpoint(), NodeGrpcClient.NodeGetVolumeStats, req.build())
            .onComplete(ar -> duration.labelValues("csi").observe((System.nanoTime() - start) / 1e9))
            .map(resp -> {
              next.put(claim, stats(claim, resp));
              return (Void) null;
            })
            .otherwise(err -> {
              LOG.debug("no stats for volume {} (claim {}): {}", v.spec().volumeHandle(), claim, err.getMessage());
              return null;
            });
      });
    }
    return chain.onComplete(ar -> {
      latest = Map.copyOf(next);
      running = false;
    });
  }

  static Stats stats(String claimKey, NodeGetVolumeStatsResponse resp) {
    String[] nsName = claimKey.split("/", 2);
    long total = -1, available = -1, used = -1, inodes = -1, free = -1, inodesUsed = -1;
    for (VolumeUsage u : resp.getUsageList()) {
      if (u.getUnit() == VolumeUsage.Unit.BYTES) {
        total = u.getTotal();
        available = u.getAvailable();
        used = u.getUsed();
      } else if (u.getUnit() == VolumeUsage.Unit.INODES) {
        inodes = u.getTotal();
        free = u.getAvailable();
        inodesUsed = u.getUsed();
      }
    }
    return new Stats(nsName[0], nsName[1], total, available, used, inodes, free, inodesUsed);
  }
}
