package dev.csinode.plugins.watcher;

import java.nio.file.Path;
import java.util.UUID;

/**
 * One registration socket as the watcher last saw it. {@code identity} is the file's inode and change time:
 * a socket re-created at the same path (a restarted plugin) has a new identity, and therefore a new
 * {@code generation}, even when the watcher saw no event in between.
 */
public record PluginSocket(Path path, String identity, UUID generation, long seenAtMillis) {}
