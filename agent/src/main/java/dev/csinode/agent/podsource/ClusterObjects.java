package dev.csinode.agent.podsource;

import dev.csinode.agent.util.FrozenMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
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
    pods = FrozenMap.of(pods);
    claims = FrozenMap.of(claims);
    volumes = FrozenMap.of(volumes);
    storageClasses = FrozenMap.of(storageClasses);
    csiDrivers = FrozenMap.of(csiDrivers);
    secrets = FrozenMap.of(secrets);
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

  /**
   * These objects with some added or replaced (same kind and key) and some removed. Only the maps of the kinds
   * touched are copied, and the others are shared: a pod added to thousands of objects costs one copy of the pod
   * map, not a rebuild of everything. Kinds this view does not hold are ignored.
   */
  public ClusterObjects with(Collection<? extends HasMetadata> upserts, Collection<? extends HasMetadata> removals) {
    return new ClusterObjects(changed(pods, Pod.class, upserts, removals),
        changed(claims, PersistentVolumeClaim.class, upserts, removals),
        changed(volumes, PersistentVolume.class, upserts, removals),
        changed(storageClasses, StorageClass.class, upserts, removals),
        changed(csiDrivers, CSIDriver.class, upserts, removals), changed(secrets, Secret.class, upserts, removals), errors);
  }

  /** One kind's map with the changes of that kind: the same map when there are none, else a new one. */
  private static <T extends HasMetadata> Map<String, T> changed(Map<String, T> current, Class<T> kind,
      Collection<? extends HasMetadata> upserts, Collection<? extends HasMetadata> removals) {
    HashMap<String, T> copy = null;
    for (HasMetadata o : removals) {
      if (kind.isInstance(o)) {
        copy = copy == null ? FrozenMap.mutableCopy(current) : copy;
        copy.remove(keyInKind(o));
      }
    }
    for (HasMetadata o : upserts) {
      if (kind.isInstance(o)) {
        copy = copy == null ? FrozenMap.mutableCopy(current) : copy;
        copy.put(keyInKind(o), kind.cast(o));
      }
    }
    return copy == null ? current : FrozenMap.adopt(copy);
  }

  /** The same objects with other read errors. */
  public ClusterObjects withErrors(List<String> newErrors) {
    return new ClusterObjects(pods, claims, volumes, storageClasses, csiDrivers, secrets, newErrors);
  }

  /**
   * {@code base} with every object of {@code top} added, replacing those of {@code base} with the same kind and
   * key; errors of both. Costs a copy of each kind's map that {@code top} has objects of.
   */
  public static ClusterObjects overlay(ClusterObjects base, ClusterObjects top) {
    List<String> errs = new ArrayList<>(base.errors);
    errs.addAll(top.errors);
    if (top.isEmpty()) {
      return base.withErrors(errs);
    }
    return new ClusterObjects(overlay(base.pods, top.pods), overlay(base.claims, top.claims),
        overlay(base.volumes, top.volumes), overlay(base.storageClasses, top.storageClasses),
        overlay(base.csiDrivers, top.csiDrivers), overlay(base.secrets, top.secrets), errs);
  }

  private static <T> Map<String, T> overlay(Map<String, T> base, Map<String, T> top) {
    if (top.isEmpty()) {
      return base;
    }
    if (base.isEmpty()) {
      return top;
    }
    HashMap<String, T> m = FrozenMap.mutableCopy(base);
    m.putAll(top);
    return FrozenMap.adopt(m);
  }

  /** No objects at all (there may be errors). */
  public boolean isEmpty() {
    return pods.isEmpty() && claims.isEmpty() && volumes.isEmpty() && storageClasses.isEmpty() && csiDrivers.isEmpty()
        && secrets.isEmpty();
  }

  /** Every object, kind by kind. */
  public List<HasMetadata> all() {
    List<HasMetadata> out = new ArrayList<>();
    out.addAll(pods.values());
    out.addAll(claims.values());
    out.addAll(volumes.values());
    out.addAll(storageClasses.values());
    out.addAll(csiDrivers.values());
    out.addAll(secrets.values());
    return out;
  }

  /** The key of an object in its kind's map: {@code namespace/name}, or the name for cluster-scoped kinds. */
  static String keyInKind(HasMetadata o) {
    return o instanceof PersistentVolume || o instanceof StorageClass || o instanceof CSIDriver ? o.getMetadata().getName() : key(o);
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

}
