package dev.csinode.agent.podsource;

import dev.csinode.mount.RecordLog;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Objects pushed through the local API by a container runtime, kept in {@code <state-dir>/api-objects.log} (a
 * {@link RecordLog}, one record per object), so after a restart the agent still knows the pods it was given, and
 * does not take their absence for a deletion. An apply returns once its objects are durable. Thread-safe.
 */
public final class ApiObjectStore implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ApiObjectStore.class);
  /** The kinds without a namespace: their objects are kept as {@code Kind/_/name}. */
  public static final Set<String> CLUSTER_SCOPED = Set.of("PersistentVolume", "StorageClass", "CSIDriver");
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();
  private final RecordLog log;
  private final Map<String, HasMetadata> objects = new HashMap<>();
  /** The same objects as a view, replaced (never changed) on each apply or delete: readers take it without a lock. */
  private volatile ClusterObjects view = ClusterObjects.EMPTY;

  /** Opens the store (blocking); objects kept by an older version, a file each in {@code api-objects/}, are moved in. */
  public ApiObjectStore(Path stateDir) throws IOException {
    this.log = RecordLog.open(stateDir.resolve("api-objects.log"));
    log.adoptFiles(stateDir.resolve("api-objects"), id -> id);
    Map<String, String> stored = log.records();
    Map<String, String> migrated = new TreeMap<>();
    List<String> stale = new ArrayList<>();
    for (var record : stored.entrySet()) {
      ManifestParser.Result r = ManifestParser.parse(log.file(), record.getValue());
      r.errors().forEach(e -> LOG.error("stored API object {}: {}", record.getKey(), e));
      for (HasMetadata o : r.objects()) {
        String id = id(o);
        if (id.equals(record.getKey())) {
          objects.put(id, o);
          continue;
        }
        stale.add(record.getKey());
        if (!stored.containsKey(id)) { // else a migration cut short: the record under the new key is the one
          objects.put(id, o);
          migrated.put(id, record.getValue());
        }
      }
    }
    migrateKeys(stale, migrated);
    view = ClusterObjects.of(objects.values(), List.of());
  }

  /**
   * Keys of older versions ({@code Kind_namespace_name}, ambiguous: {@code a_b/c} and {@code a/b_c} shared one) are
   * replaced by {@link #id}s: the records under their new keys first, durably, then the old keys removed.
   */
  private void migrateKeys(List<String> old, Map<String, String> migrated) throws IOException {
    if (old.isEmpty()) {
      return;
    }
    if (!migrated.isEmpty()) {
      RecordLog.await(log.putAll(migrated));
    }
    for (String key : old) {
      RecordLog.await(log.remove(key));
    }
    LOG.info("stored API objects: {} records moved to keys of the form Kind/namespace/name", old.size());
  }

  /** {@code Kind/namespace/name} ({@code _} as the namespace of cluster-scoped kinds): the identity of an object. */
  static String id(HasMetadata o) {
    String ns = CLUSTER_SCOPED.contains(o.getKind()) ? "_" : ClusterObjects.namespaceOf(o);
    return id(o.getKind(), ns, o.getMetadata().getName());
  }

  /** Unambiguous: '%' and '/' in a part are escaped (names cannot hold them, but stored objects may predate that check). */
  static String id(String kind, String namespace, String name) {
    return escape(kind) + "/" + escape(namespace) + "/" + escape(name);
  }

  private static String escape(String part) {
    return part.replace("%", "%25").replace("/", "%2F");
  }

  /**
   * Adds or replaces the objects; returns once they are durable. The objects become the store's (a pod without a
   * uid gets one, in place): hand it objects just parsed and do not change them afterwards. Blocking, but not
   * holding the store while the disk flushes: concurrent applies and deletes share one flush (group commit).
   */
  public void apply(List<HasMetadata> items) throws IOException {
    Map<String, HasMetadata> byId = new TreeMap<>();
    Map<String, String> records = new TreeMap<>();
    for (HasMetadata item : items) {
      HasMetadata o = ManifestDirectorySource.assignUidIfMissing(item);
      byId.put(id(o), o);
      records.put(id(o), KUBE.asJson(o));
    }
    // Changes are taken in once durable, in the log's order (its futures complete in the order of submission).
    RecordLog.await(log.putAll(records).thenRun(() -> took(byId.values(), List.of())));
  }

  /** Deletes one object; returns false when there was none. Blocking, like {@link #apply}. */
  public boolean delete(String kind, String namespace, String name) throws IOException {
    String id = id(kind, namespace, name);
    synchronized (this) {
      if (!objects.containsKey(id)) {
        return false;
      }
    }
    RecordLog.await(log.remove(id).thenRun(() -> {
      synchronized (this) {
        HasMetadata gone = objects.get(id);
        if (gone != null) { // else a concurrent delete of the same object came first
          took(List.of(), List.of(gone));
        }
      }
    }));
    return true;
  }

  private synchronized void took(Collection<HasMetadata> upserts, List<HasMetadata> removals) {
    upserts.forEach(o -> objects.put(id(o), o));
    removals.forEach(o -> objects.remove(id(o)));
    view = view.with(upserts, removals);
  }

  public List<HasMetadata> all() {
    return view.all();
  }

  /** What the store holds now, as an immutable view. */
  public ClusterObjects objects() {
    return view;
  }

  @Override
  public void close() {
    log.close();
  }
}
