package dev.csinode.plugins.watcher;

import java.nio.file.Path;
import java.util.UUID;

/**
 * One registration socket as the watcher last saw it. {@code identity} is the file's device and inode; each
 * new instance of a socket at the same path (a restarted plugin) gets a new {@code generation}, whether the
 * watcher learnt of it from a delete event or, when events were lost, from a changed inode at a rescan.
 */
public record PluginSocket(Path path, String identity, UUID generation, long seenAtMillis) {}
