package dev.csinode.agent.podsource;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An immutable view of every Kubernetes object the pod sources know: pods, claims, volumes, classes,
 * CSIDriver objects and secrets, plus the errors met while reading them. Namespaced objects are keyed
 * {@code namespace/name}, cluster-scoped ones by name.
 */
public record ClusterObjects(Map<String, Pod> pods, Map<String, PersistentVolumeClaim> claims,
                             Map<String, PersistentVolume> volumes, Map<String, StorageClass> storageClasses,
                             Map<String, CSIDriver> csiDrivers, Map<String, Secret> secrets, List<String> errors) {

  public static final ClusterObjects EMPTY = of(List.of(), List.of());

  public ClusterObjects {
    pods = Map.copyOf(pods);
    claims = Map.copyOf(claims);
    volumes = Map.copyOf(volumes);
    storageClasses = Map.copyOf(storageClasses);
    csiDrivers = Map.copyOf(csiDrivers);
    secrets = Map.copyOf(secrets);
    errors = List.copyOf(errors);
  }

  public static ClusterObjects of(Collection<? extends HasMetadata> objects, List<String> errors) {
    Map<String, Pod> pods = new LinkedHashMap<>();
    Map<String, PersistentVolumeClaim> claims = new LinkedHashMap<>();
    Map<String, PersistentVolume> volumes = new LinkedHashMap<>();
    Map<String, StorageClass> classes = new LinkedHashMap<>();
    Map<String, CSIDriver> drivers = new LinkedHashMap<>();
    Map<String, Secret> secrets = new LinkedHashMap<>();
    List<String> errs = new ArrayList<>(errors);
    for (HasMetadata o : objects) {
      if (o instanceof Pod p) {
        put(pods, key(p), p, errs);
      } else if (o instanceof PersistentVolumeClaim c) {
        put(claims, key(c), c, errs);
      } else if (o instanceof PersistentVolume v) {
        put(volumes, v.getMetadata().getName(), v, errs);
      } else if (o instanceof StorageClass s) {
        put(classes, s.getMetadata().getName(), s, errs);
      } else if (o instanceof CSIDriver d) {
        put(drivers, d.getMetadata().getName(), d, errs);
      } else if (o instanceof Secret s) {
        put(secrets, key(s), s, errs);
      }
    }
    return new ClusterObjects(pods, claims, volumes, classes, drivers, secrets, errs);
  }

  private static <T extends HasMetadata> void put(Map<String, T> map, String key, T value, List<String> errors) {
    if (map.putIfAbsent(key, value) != null) {
      errors.add(value.getKind() + " " + key + " is defined more than once; the first definition is used");
    }
  }

  public static String namespaceOf(HasMetadata o) {
    String ns = o.getMetadata().getNamespace();
    return ns == null || ns.isEmpty() ? "default" : ns;
  }

  public static String key(HasMetadata o) {
    return namespaceOf(o) + "/" + o.getMetadata().getName();
  }

  public Optional<PersistentVolumeClaim> claim(String namespace, String name) {
    return Optional.ofNullable(claims.get(namespace + "/" + name));
  }

  public Optional<Secret> secret(String namespace, String name) {
    return Optional.ofNullable(secrets.get(namespace + "/" + name));
  }

  public List<Pod> sortedPods() {
    return pods.values().stream().sorted(Comparator.comparing(ClusterObjects::key)).toList();
  }
}
