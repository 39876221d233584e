package dev.csinode.agent.provisioner;

import dev.csinode.agent.podsource.ClusterObjects;
import java.util.Map;

/**
 * What the claim-binding stage hands the desired state: the sources' objects with claims bound to the volumes
 * provisioned for them (those volumes and generic ephemeral claims added), the claims that only a change of objects
 * can get a volume ({@code errors}) and those whose creation failed and is retried ({@code retrying}), each by
 * {@code namespace/name} with what to tell their pods.
 */
public record ClaimBinding(ClusterObjects objects, Map<String, String> errors, Map<String, String> retrying) {
  public static final ClaimBinding EMPTY = new ClaimBinding(ClusterObjects.EMPTY, Map.of(), Map.of());
}
