package dev.csinode.agent.podsource;

/**
 * The objects of the manifest directory with the pushed ones over them, merged again only when either changed. The
 * volume pipeline reads the sources at each run, and most runs are for a stage's own change (a volume created, a
 * backoff over): handing it the same instance lets the claim binder and the populator skip everything unchanged.
 */
public final class MergedSources {
  private ClusterObjects manifests;
  private ClusterObjects pushed;
  private ClusterObjects merged;

  /** A pushed object replaces a manifest object of the same kind and key. */
  public synchronized ClusterObjects of(ClusterObjects manifests, ClusterObjects pushed) {
    if (merged == null || manifests != this.manifests || pushed != this.pushed) {
      this.manifests = manifests;
      this.pushed = pushed;
      this.merged = ClusterObjects.overlay(manifests, pushed);
    }
    return merged;
  }
}
