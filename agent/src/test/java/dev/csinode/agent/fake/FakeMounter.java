package dev.csinode.agent.fake;

import dev.csinode.agent.volume.MountPoints;
import dev.csinode.mount.MountTable;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A test double of the host's mounts: a mount table the test (and {@link FakeCsiNodeClient}, standing in for a driver)
 * writes to, so that the reconciler and the volume operations run without root and without mount(2). Thread-safe.
 */
public final class FakeMounter implements MountPoints {
  private final Set<String> mounted = new LinkedHashSet<>();

  public synchronized void mount(Path path) {
    mounted.add(path.toString());
  }

  /** Returns whether something was mounted there. */
  public synchronized boolean unmount(Path path) {
    return mounted.remove(path.toString());
  }

  public synchronized List<String> mounted() {
    return List.copyOf(mounted);
  }

  @Override
  public synchronized boolean isMountPoint(Path path) {
    return mounted.contains(path.toString());
  }

  /** The mounts as /proc/self/mountinfo would show them. */
  @Override
  public synchronized MountTable table() {
    StringBuilder text = new StringBuilder();
    int id = 100;
    for (String p : mounted) {
      text.append(id++).append(" 1 0:99 / ").append(escape(p)).append(" rw - fake fake rw\n");
    }
    return MountTable.parse(text.toString());
  }

  private static String escape(String p) {
    return p.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012");
  }
}
