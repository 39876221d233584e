package dev.csinode.agent.systemd;

import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.VolumeStatus;
import dev.csinode.plugins.csi.DriverRegistry;
import java.util.List;

/** The one line {@code systemctl status} shows for the agent: drivers, pods, volumes, errors. */
public final class ServiceStatus {
  private ServiceStatus() {}

  /** Reads only immutable snapshots: safe from any thread. */
  public static String line(DriverRegistry drivers, VolumeManager volumes) {
    List<PodStatus> pods = volumes.pods();
    List<VolumeStatus> vols = volumes.volumes();
    long ready = pods.stream().filter(PodStatus::ready).count();
    long published = vols.stream().filter(v -> !v.publishedFor().isEmpty()).count();
    long errors = pods.stream().filter(p -> !p.errors().isEmpty()).count();
    int registered = drivers.all().size();
    return registered + " driver" + (registered == 1 ? "" : "s") + " registered; " + ready + "/" + pods.size() + " pods ready; "
        + published + " volume" + (published == 1 ? "" : "s") + " published; " + errors + " pod" + (errors == 1 ? "" : "s")
        + " with errors";
  }
}
