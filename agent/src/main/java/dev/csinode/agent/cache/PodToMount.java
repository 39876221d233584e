package dev.csinode.agent.cache;

/**
 * A pod that needs a volume, with what differs per pod: read-only use, the pod facts for podInfoOnMount, and
 * the pod's fsGroup and fsGroupChangePolicy (null when not set).
 */
public record PodToMount(String podUid, String podKey, String namespace, String name, String serviceAccount,
                         String podVolumeName, boolean readOnly, Long fsGroup, String fsGroupChangePolicy) {}
