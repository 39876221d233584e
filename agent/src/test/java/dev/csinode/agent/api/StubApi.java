package dev.csinode.agent.api;

import io.vertx.core.Future;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A test double of the agent behind the API: a fixed status; apply records the manifests it was given. */
public class StubApi implements AgentApi {
  public final List<String> applied = new ArrayList<>();
  private final Object status;

  public StubApi(Object status) {
    this.status = status;
  }

  @Override
  public Object status() {
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
  public Object pod(String namespace, String name) {
    return null;
  }

  @Override
  public Future<Object> waitReady(String namespace, String name, Duration timeout) {
    return Future.succeededFuture(Map.of());
  }

  @Override
  public Future<Object> orphans(boolean remove) {
    return Future.succeededFuture(List.of());
  }

  @Override
  public Object persistentVolumes() {
    return Map.of("items", List.of());
  }

  @Override
  public Future<Object> deletePersistentVolume(String name) {
    return Future.failedFuture("no PersistentVolume " + name);
  }
}
