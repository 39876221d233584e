package dev.csinode.agent.podsource;

import dev.csinode.mount.AtomicFile;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Objects pushed through the local API by a container runtime. Each is kept as a JSON file under
 * {@code <state-dir>/api-objects/} (written with {@link AtomicFile}), so after a restart the agent still knows the pods it
 * was given, and does not take their absence for a deletion. Thread-safe.
 */
public final class ApiObjectStore {
  private static final Logger LOG = LoggerFactory.getLogger(ApiObjectStore.class);
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();
  private final Path dir;
  private final Map<String, HasMetadata> objects = new TreeMap<>();

  public ApiObjectStore(Path stateDir) {
    this.dir = stateDir.resolve("api-objects");
    load();
  }

  public static final java.util.Set<String> CLUSTER_SCOPED = java.util.Set.of("PersistentVolume", "StorageClass", "CSIDriver");

  /** {@code Kind_namespace_name}: the file name and the identity of an object. */
  static String id(HasMetadata o) {
    String ns = CLUSTER_SCOPED.contains(o.getKind()) ? "_" : ClusterObjects.namespaceOf(o);
    return o.getKind() + "_" + ns + "_" + o.getMetadata().getName();
  }

  public synchronized void apply(List<HasMetadata> items) throws IOException {
    Map<String, HasMetadata> byId = new TreeMap<>();
    Map<String, byte[]> files = new TreeMap<>();
    for (HasMetadata o : items) {
      HasMetadata withUid = ManifestDirectorySource.withUid(o);
      byId.put(id(withUid), withUid);
      files.put(id(withUid) + ".json", KUBE.asJson(withUid).getBytes(StandardCharsets.UTF_8));
    }
    AtomicFile.writeAll(dir, files);
    objects.putAll(byId);
  }

  /** Deletes one object; returns false when there was none. */
  public synchronized boolean delete(String kind, String namespace, String name) throws IOException {
    String id = kind + "_" + namespace + "_" + name;
    if (objects.remove(id) == null) {
      return false;
    }
    AtomicFile.delete(dir.resolve(id + ".json"));
    return true;
  }

  public synchronized List<HasMetadata> all() {
    return List.copyOf(objects.values());
  }

  private void load() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> files = Files.list(dir)) {
      AtomicFile.removeLeftovers(dir);
      for (Path f : files.filter(p -> p.toString().endsWith(".json")).toList()) {
        ManifestParser.Result r = ManifestParser.parse(f);
        r.errors().forEach(e -> LOG.error("stored API object {}: {}", f, e));
        r.objects().forEach(o -> objects.put(id(o), o));
      }
    } catch (IOException e) {
      LOG.error("cannot read {}: {}", dir, e.getMessage());
    }
  }

  /** Combines the manifests' objects with the pushed ones; a pushed object replaces a manifest object of the same id. */
  public static ClusterObjects merge(ClusterObjects manifests, List<HasMetadata> pushed) {
    Map<String, HasMetadata> byId = new TreeMap<>();
    Stream.of(manifests.pods().values(), manifests.claims().values(), manifests.volumes().values(),
        manifests.storageClasses().values(), manifests.csiDrivers().values(), manifests.secrets().values())
        .flatMap(java.util.Collection::stream).forEach(o -> byId.put(id(o), o));
    pushed.forEach(o -> byId.put(id(o), o));
    return ClusterObjects.of(new ArrayList<>(byId.values()), manifests.errors());
  }
}
