package dev.csinode.agent.metrics;

import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerView;
import dev.csinode.agent.volume.KubeletLayout;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * The volume manager's metrics, with the kubelet's names where the kubelet has one:
 * {@code storage_operation_duration_seconds}, {@code volume_manager_total_volumes}, and gauges of uncertain
 * volumes. Gauges are computed at scrape time from the volume manager's view (the reconciler's and the
 * provisioner's snapshots).
 */
public final class VolumeManagerMetrics {
  private VolumeManagerMetrics() {}

  /**
   * {@code storage_operation_duration_seconds}: every volume operation (volume_mount, volume_unmount, unmount_device)
   * and every provisioning operation (volume_provision, volume_delete, volume_release, volume_rebind) that finished.
   */
  public static OperationExecutor.Observer operationDurations(PrometheusRegistry registry) {
    Histogram ops = Histogram.builder().name("storage_operation_duration_seconds")
        .help("Duration of volume operations (volume_mount, volume_unmount, unmount_device) and of provisioning "
            + "(volume_provision, volume_delete, volume_release, volume_rebind)")
        .classicUpperBounds(.1, .25, .5, 1, 2.5, 5, 10, 15, 25, 50, 120, 300, 600)
        .labelNames("volume_plugin", "operation_name", "status", "migrated").register(registry);
    return (operation, plugin, success, seconds) ->
        ops.labelValues(plugin, operation, success ? "success" : "fail-unknown", "false").observe(seconds);
  }

  /** The gauges; {@code operationsInFlight}: the volume operations running now. */
  public static void register(PrometheusRegistry registry, VolumeManagerView vm, IntSupplier operationsInFlight) {
    GaugeWithCallback.builder().name("volume_manager_total_volumes")
        .help("Number of volumes in the desired and actual state of world, by plugin")
        .labelNames("plugin_name", "state")
        .callback(cb -> {
          Reconciler.Snapshot s = vm.snapshot();
          Map<String, Integer> desired = new HashMap<>();
          s.desired().volumes().values().forEach(v -> desired.merge(v.spec().driver(), 1, Integer::sum));
          Map<String, Integer> actual = new HashMap<>();
          s.actual().forEach(v -> actual.merge(v.spec().driver(), 1, Integer::sum));
          desired.forEach((d, n) -> cb.call(n, KubeletLayout.pluginName(d), "desired_state_of_world"));
          actual.forEach((d, n) -> cb.call(n, KubeletLayout.pluginName(d), "actual_state_of_world"));
        }).register(registry);
    GaugeWithCallback.builder().name("csi_node_agent_operations_in_flight")
        .help("Volume operations running now; 0 with no uncertain volume means the node has settled and is journaled")
        .callback(cb -> cb.call(operationsInFlight.getAsInt())).register(registry);
    GaugeWithCallback.builder().name("csi_node_agent_uncertain_volumes")
        .help("Volumes whose staging or a publish is in an uncertain state (may be mounted; torn down when unused)")
        .callback(cb -> cb.call(vm.uncertainVolumes()))
        .register(registry);
    GaugeWithCallback.builder().name("kubelet_orphan_pod_cleaned_volumes")
        .help("Orphaned pod directories seen by the last housekeeping pass")
        .callback(cb -> cb.call(vm.snapshot().orphans().size())).register(registry);
    GaugeWithCallback.builder().name("kubelet_orphan_pod_cleaned_volumes_errors")
        .help("Orphaned pod directories the last housekeeping pass kept (something mounted below, or files the agent did not create)")
        .callback(cb -> cb.call(vm.snapshot().orphans().stream().filter(o -> o.action() == HousekeepingAction.KEEP).count()))
        .register(registry);
    GaugeWithCallback.builder().name("csi_node_agent_provisioning_claims")
        .help("Claims the agent provisions for that have no volume yet, by state: provisioning, failed (retried with backoff), "
            + "error (needs a change of objects)")
        .labelNames("state")
        .callback(cb -> {
          Map<String, Integer> byState = new HashMap<>(Map.of("provisioning", 0, "failed", 0, "error", 0));
          vm.provisioning().claims().forEach(c -> byState.merge(c.state(), 1, Integer::sum));
          byState.forEach((state, n) -> cb.call(n, state));
        }).register(registry);
    GaugeWithCallback.builder().name("csi_node_agent_released_volumes")
        .help("Provisioned volumes whose claim is gone (Released): deleted per reclaimPolicy when the agent saw the claim go, "
            + "else kept until `csi-node-agent pv delete`")
        .callback(cb -> cb.call(vm.provisioning().volumes().stream().filter(v -> v.phase().equals("Released")).count()))
        .register(registry);
    GaugeWithCallback.builder().name("csi_node_agent_unmanaged_mounts")
        .help("Mounts in the agent's pod and staging directories that it did not make (reported, never touched)")
        .callback(cb -> cb.call(vm.snapshot().unmanagedMounts().size())).register(registry);
  }
}
