package dev.csinode.agent.api;

import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.status.DriverStatus;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.status.StatusReport;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** A test double of the agent behind the API: a fixed status; apply records the manifests it was given. */
public class StubApi implements AgentApi {
  public final List<String> applied = new ArrayList<>();
  private final StatusReport status;

  public StubApi(StatusReport status) {
    this.status = status;
  }

  /** A node with these drivers and pods, and nothing else. */
  public static StatusReport status(String nodeName, List<DriverStatus> drivers, List<PodStatus> pods) {
    return new StatusReport(nodeName, "/var/lib/kubelet", drivers, pods, List.of(), List.of(), List.of(), List.of(),
        ProvisioningStatus.EMPTY, List.of());
  }

  @Override
  public StatusReport status() {
    return status;
  }

  @Override
  public synchronized Future<ApplyResult> apply(String manifest) {
    applied.add(manifest);
    return Future.succeededFuture(new ApplyResult(List.of("Pod default/p"), List.of()));
  }

  @Override
  public Future<Boolean> deletePod(String namespace, String name) {
    return Future.succeededFuture(false);
  }

  @Override
  public Future<Boolean> deleteObject(String kind, String namespace, String name) {
    return Future.succeededFuture(false);
  }

  @Override
  public Optional<PodStatus> pod(String namespace, String name) {
    return Optional.empty();
  }

  @Override
  public Future<PodStatus> waitReady(String namespace, String name, Duration timeout) {
    return Future.failedFuture(new ApiException(408, "pod " + namespace + "/" + name + " is unknown"));
  }

  @Override
  public Future<List<Orphan>> orphans(boolean remove) {
    return Future.succeededFuture(List.of());
  }

  @Override
  public PersistentVolumes persistentVolumes() {
    return new PersistentVolumes(List.of());
  }

  @Override
  public Future<PersistentVolumeDeleted> deletePersistentVolume(String name) {
    return Future.failedFuture(new ApiException(404, "no PersistentVolume " + name));
  }
}
