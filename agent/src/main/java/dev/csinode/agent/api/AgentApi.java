package dev.csinode.agent.api;

import io.vertx.core.Future;
import java.time.Duration;

/** What the local API exposes; the agent implements it. Results are JSON-serializable records. */
public interface AgentApi {
  Object status();

  /** Adds or replaces the objects in a manifest (YAML or JSON, one or more documents). */
  Future<ApplyResult> apply(String manifest);

  /** Deletes a pushed pod; false when the API holds no such pod. */
  Future<Boolean> deletePod(String namespace, String name);

  /** Deletes a pushed object of any kind ({@code namespace} is ignored for cluster-scoped kinds); false when there was none. */
  Future<Boolean> deleteObject(String kind, String namespace, String name);

  /** The pod's volume status, or null when unknown. */
  Object pod(String namespace, String name);

  /** Completes with the pod's status when ready; fails with the reason when it cannot or did not get ready in time. */
  Future<Object> waitReady(String namespace, String name, Duration timeout);

  /**
   * Orphaned pod directories. With {@code remove}, those that can go are removed now; otherwise the answer says
   * what a cleanup would do (dry run).
   */
  Future<Object> orphans(boolean remove);

  /** The PersistentVolumes the agent provisioned, Bound or Released ({@code items}). */
  Object persistentVolumes();

  /**
   * Deletes a PersistentVolume the agent provisioned, and its volume; fails with 404 when there is none, 409 while a
   * claim is bound to it or a pod uses it, 503 when its driver is not registered.
   */
  Future<Object> deletePersistentVolume(String name);

  /** What apply did: objects stored ({@code Kind namespace/name}) and problems found in the manifest. */
  record ApplyResult(java.util.List<String> applied, java.util.List<String> errors) {}

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
}
