package dev.csinode.agent.api;

import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.status.ProvisioningStatus.ProvisionedVolume;
import dev.csinode.agent.status.StatusReport;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import io.vertx.core.Future;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * What the local API exposes; the agent implements it. Every answer is a record, and the JSON the API serves is that
 * record's fields, by name.
 */
public interface AgentApi {
  /** What apply did: objects stored ({@code Kind namespace/name}) and problems found in the manifest. */
  record ApplyResult(List<String> applied, List<String> errors) {}

  /** The PersistentVolumes the agent provisioned ({@code GET /v1/persistentvolumes}). */
  record PersistentVolumes(List<ProvisionedVolume> items) {}

  /** A PersistentVolume deleted with its volume; {@code message}: what was done. */
  record PersistentVolumeDeleted(String deleted, String message) {}

  /** The orphaned pod directories ({@code GET /v1/orphans}, {@code POST /v1/orphans/cleanup}). */
  record Orphans(List<Orphan> orphanedPodDirectories) {}

  /** A pushed object deleted: {@code Kind namespace/name}, or {@code namespace/name} for a pod. */
  record Deleted(String deleted) {}

  /** Any answer that is not a success. */
  record ApiError(String error) {}

  /** A failure the API reports with an HTTP status. */
  final class ApiException extends RuntimeException {
    private final int status;

    public ApiException(int status, String message) {
      super(message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }

  StatusReport status();

  /** Adds or replaces the objects in a manifest (YAML or JSON, one or more documents). */
  Future<ApplyResult> apply(String manifest);

  /** Deletes a pushed pod; false when the API holds no such pod. */
  Future<Boolean> deletePod(String namespace, String name);

  /** Deletes a pushed object of any kind ({@code namespace} is ignored for cluster-scoped kinds); false when there was none. */
  Future<Boolean> deleteObject(String kind, String namespace, String name);

  /** The pod's volume status, or empty when no source names it. */
  Optional<PodStatus> pod(String namespace, String name);

  /** Completes with the pod's status when ready; fails with the reason when it cannot or did not get ready in time. */
  Future<PodStatus> waitReady(String namespace, String name, Duration timeout);

  /**
   * Orphaned pod directories. With {@code remove}, those that can go are removed now; otherwise the answer says
   * what a cleanup would do (dry run).
   */
  Future<List<Orphan>> orphans(boolean remove);

  /** The PersistentVolumes the agent provisioned, Bound or Released. */
  PersistentVolumes persistentVolumes();

  /**
   * Deletes a PersistentVolume the agent provisioned, and its volume; fails with 404 when there is none, 409 while a
   * claim is bound to it or a pod uses it, 503 when its driver is not registered.
   */
  Future<PersistentVolumeDeleted> deletePersistentVolume(String name);
}
