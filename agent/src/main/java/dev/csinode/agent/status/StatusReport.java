package dev.csinode.agent.status;

import dev.csinode.agent.housekeeping.OrphanedPodDirectories;
import dev.csinode.mount.RecordLog;
import dev.csinode.plugins.PluginStatus;
import dev.csinode.plugins.csi.RegisteredDriver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The agent's status as the API serves it and {@code status -o json} prints it. {@code unmanagedMounts} and
 * {@code orphanedPodDirectories} are from the last housekeeping pass (the resync); {@code provisioning}: claims the
 * agent provisions for and the PersistentVolumes it made; {@code degradedRecords}: the record logs under the root
 * that cannot be written now (a full disk), each with the error and since when.
 */
public record StatusReport(String nodeName, String rootDir, List<DriverStatus> drivers,
                           List<VolumeManagerStatus.PodStatus> pods, List<VolumeManagerStatus.VolumeStatus> volumes,
                           List<String> manifestErrors, List<String> unmanagedMounts,
                           List<OrphanedPodDirectories.Orphan> orphanedPodDirectories, ProvisioningStatus provisioning,
                           List<RecordLog.Degraded> degradedRecords) {

  /** Driver rows come from the plugin manager's snapshot alone: a registered row carries its own registration. */
  public static StatusReport of(String nodeName, String rootDir, List<PluginStatus> plugins,
                                List<VolumeManagerStatus.PodStatus> pods, List<VolumeManagerStatus.VolumeStatus> volumes,
                                List<String> manifestErrors, List<String> unmanagedMounts,
                                List<OrphanedPodDirectories.Orphan> orphanedPodDirectories, ProvisioningStatus provisioning) {
    List<DriverStatus> rows = new ArrayList<>();
    for (PluginStatus p : plugins) {
      RegisteredDriver d = p.driver();
      if (d != null) {
        rows.add(new DriverStatus(d.name(), d.endpoint(), d.nodeId(), "registered", p.reason(), d.healthy(), d.nodeCapabilities(),
            d.topology(), d.maxVolumesPerNode(), p.socketPath(), Instant.ofEpochMilli(d.registeredAtMillis()).toString(), null));
      } else {
        rows.add(new DriverStatus(p.driverName(), null, null, p.state(), p.reason(), null, List.of(), Map.of(), 0,
            p.socketPath(), null, p.nextRetryAtMillis() > 0 ? Instant.ofEpochMilli(p.nextRetryAtMillis()).toString() : null));
      }
    }
    return new StatusReport(nodeName, rootDir, List.copyOf(rows), pods, volumes, manifestErrors, unmanagedMounts, orphanedPodDirectories,
        provisioning, List.of());
  }

  public StatusReport withDegradedRecords(List<RecordLog.Degraded> degraded) {
    return new StatusReport(nodeName, rootDir, drivers, pods, volumes, manifestErrors, unmanagedMounts, orphanedPodDirectories,
        provisioning, List.copyOf(degraded));
  }
}
