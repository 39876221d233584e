package dev.csinode.hostpath;

/** A point-in-time copy of a volume's content, kept under the state dir. */
public record HostpathSnapshot(String id, String name, String sourceVolumeId, VolumeKind kind, boolean block,
                               long sizeBytes, long createdAtMillis) {}
