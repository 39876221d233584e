package dev.csinode.agent.populator;

import dev.csinode.agent.podsource.ClusterObjects;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * The objects a pod's resolution looks up. With a {@code deps} list it records each lookup and what it found, so
 * {@link #unchanged} can later tell whether a new set of objects would give the same answers.
 */
final class Lookups {
  enum Kind { DRIVER, CLAIM, VOLUME, SECRET, PROBLEM }

  record Dep(Kind kind, String key, Object found) {}

  /** Why a claim is not provisioned: an error only a change of objects fixes, or a failure being retried. */
  record ClaimProblem(String text, boolean retrying) {}

  private final ClusterObjects objects;
  private final Map<String, String> problems;
  private final Map<String, String> retries;
  final List<Dep> deps;

  /**
   * @param problems why claims are not bound (from the provisioner), by {@code namespace/name}
   * @param retries claims whose provisioning failed and is retried, and how it stands
   * @param deps where lookups are recorded, or null for none
   */
  Lookups(ClusterObjects objects, Map<String, String> problems, Map<String, String> retries, List<Dep> deps) {
    this.objects = objects;
    this.problems = problems;
    this.retries = retries;
    this.deps = deps;
  }

  private Object find(Kind kind, String key) {
    return switch (kind) {
      case DRIVER -> objects.csiDrivers().get(key);
      case CLAIM -> objects.claims().get(key);
      case VOLUME -> objects.volumes().get(key);
      case SECRET -> objects.secrets().get(key);
      case PROBLEM -> problems.containsKey(key) ? new ClaimProblem(problems.get(key), false)
          : retries.containsKey(key) ? new ClaimProblem(retries.get(key), true) : null;
    };
  }

  private Object lookup(Kind kind, String key) {
    Object found = find(kind, key);
    if (deps != null) {
      deps.add(new Dep(kind, key, found));
    }
    return found;
  }

  /** Same instances (claim problems: equal text) for every lookup recorded of these kinds. */
  boolean unchanged(List<Dep> recorded, Set<Kind> kinds) {
    for (Dep d : recorded) {
      if (!kinds.contains(d.kind())) {
        continue;
      }
      Object now = find(d.kind(), d.key());
      if (d.kind() == Kind.PROBLEM ? !Objects.equals(now, d.found()) : now != d.found()) {
        return false;
      }
    }
    return true;
  }

  CSIDriver driver(String name) {
    return (CSIDriver) lookup(Kind.DRIVER, name);
  }

  Optional<PersistentVolumeClaim> claim(String namespace, String name) {
    return Optional.ofNullable((PersistentVolumeClaim) lookup(Kind.CLAIM, namespace + "/" + name));
  }

  PersistentVolume volume(String name) {
    return (PersistentVolume) lookup(Kind.VOLUME, name);
  }

  boolean hasSecret(String namespace, String name) {
    return lookup(Kind.SECRET, namespace + "/" + name) != null;
  }

  /** Why a claim has no volume yet (from the provisioner), or null while it is simply being provisioned. */
  ClaimProblem claimProblem(String key) {
    return (ClaimProblem) lookup(Kind.PROBLEM, key);
  }
}
