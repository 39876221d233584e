package dev.csinode.agent.housekeeping;

import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import java.util.List;
import java.util.Set;

/**
 * Mounts in the places the agent manages (pod volume directories, staging directories) that it did not make
 * and does not know: reported in the status, never touched. Mounts inside a known volume are the volume's own
 * business and are not listed.
 */
public final class UnmanagedMounts {
  private UnmanagedMounts() {}

  /** {@code known}: every staging and publish path of the actual state, whatever its state. */
  public static List<String> find(KubeletLayout layout, MountTable mounts, Set<String> known) {
    java.util.SortedSet<String> out = new java.util.TreeSet<>(); // a path mounted over twice is listed once
    String pods = layout.podsDir() + "/";
    String csi = layout.root().resolve("plugins").resolve(KubeletLayout.PLUGIN_NAME) + "/";
    for (MountInfo m : mounts.all()) {
      String p = m.mountPoint();
      if ((p.startsWith(pods) || p.startsWith(csi)) && !known.contains(p) && !insideKnown(p, known)) {
        out.add(p);
      }
    }
    return List.copyOf(out);
  }

  private static boolean insideKnown(String p, Set<String> known) {
    for (int i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
      if (known.contains(p.substring(0, i))) {
        return true;
      }
    }
    return false;
  }
}
