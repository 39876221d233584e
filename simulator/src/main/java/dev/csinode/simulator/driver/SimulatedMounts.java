package dev.csinode.simulator.driver;

import dev.csinode.agent.volume.MountPoints;
import dev.csinode.mount.MountTable;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The simulated node's mount table, for node-scale runs without root: the in-memory driver "mounts" here and the
 * agent looks here. Mounts stack as the kernel's do (a second mount at a path covers the first; an unmount
 * uncovers it). Thread-safe: the driver's workers change it while the agent's reads it.
 */
public final class SimulatedMounts implements MountPoints {
  /** Mount point to its sources, the topmost last, in the order the mount points were first mounted. */
  private final Map<Path, Deque<String>> mounts = new LinkedHashMap<>();
  /** The table as the agent reads it, rebuilt only after a change: a node-scale run asks for it often. */
  private MountTable table;

  /** Mounts {@code source} (a device, a directory, any name) at {@code target}, on top of what is there. */
  public synchronized void mount(Path target, String source) {
    mounts.computeIfAbsent(key(target), k -> new ArrayDeque<>()).addLast(source == null || source.isEmpty() ? "none" : source);
    table = null;
  }

  /** Unmounts the topmost mount at {@code target}; returns whether there was one. */
  public synchronized boolean unmount(Path target) {
    Path k = key(target);
    Deque<String> stack = mounts.get(k);
    if (stack == null) {
      return false;
    }
    stack.removeLast();
    if (stack.isEmpty()) {
      mounts.remove(k);
    }
    table = null;
    return true;
  }

  /** A reboot: every mount is gone; directories on disk stay. */
  public synchronized void clear() {
    mounts.clear();
    table = null;
  }

  /** The mount points at or below {@code root}, in the order they were first mounted. */
  public synchronized List<Path> beneath(Path root) {
    Path r = key(root);
    List<Path> out = new ArrayList<>();
    for (Path p : mounts.keySet()) {
      if (p.startsWith(r)) {
        out.add(p);
      }
    }
    return out;
  }

  /** The source of the topmost mount at {@code target}, or null. */
  public synchronized String sourceAt(Path target) {
    Deque<String> stack = mounts.get(key(target));
    return stack == null ? null : stack.peekLast();
  }

  @Override
  public synchronized boolean isMountPoint(Path path) {
    return mounts.containsKey(key(path));
  }

  /** The mounts as /proc/self/mountinfo would list them (filesystem type {@code simulated}). */
  @Override
  public synchronized MountTable table() {
    if (table == null) {
      StringBuilder text = new StringBuilder();
      int id = 1000;
      for (Map.Entry<Path, Deque<String>> e : mounts.entrySet()) {
        for (String source : e.getValue()) {
          text.append(id).append(" 1 0:").append(id).append(" / ").append(escape(e.getKey().toString()))
              .append(" rw,relatime - simulated ").append(escape(source)).append(" rw\n");
          id++;
        }
      }
      table = MountTable.parse(text.toString());
    }
    return table;
  }

  private static Path key(Path p) {
    return p.toAbsolutePath().normalize();
  }

  /** mountinfo's octal escapes for the characters that would split its fields. */
  private static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (char c : s.toCharArray()) {
      if (c == ' ' || c == '\t' || c == '\n' || c == '\\') {
        b.append('\\').append(String.format("%03o", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }
}
