package dev.csinode.agent.housekeeping;

import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import java.util.List;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mounts in the places the agent manages (pod volume directories, staging directories) that it did not make
 * and does not know: reported in the status, never touched. Mounts inside a known volume are the volume's own
 * business and are not listed. The mount table is read while operations run, so a mount made or removed meanwhile
 * can be in the table and not yet in the paths known: only what two passes in a row find is reported
 * ({@link #confirm}, on the reconciler's context).
 */
public final class UnmanagedMounts {
  private static final Logger LOG = LoggerFactory.getLogger(UnmanagedMounts.class);

  private final KubeletLayout layout;
  /** Mounts the last pass found unmanaged; reported once the next one finds them too. */
  private Set<String> suspects = Set.of();
  private List<String> reported = List.of();

  public UnmanagedMounts(KubeletLayout layout) {
    this.layout = layout;
  }

  /** {@code known}: every staging and publish path of the actual state, whatever its state. Reads no state of this. */
  public List<String> find(MountTable mounts, Set<String> known) {
    SortedSet<String> out = new TreeSet<>(); // a path mounted over twice is listed once
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

  /**
   * Takes what a pass {@link #find found}, less what is managed now; returns the mounts to report: those the pass
   * before found too. A newly reported one is logged once.
   */
  public List<String> confirm(List<String> found, Set<String> managedNow) {
    List<String> now = found.stream().filter(m -> !managedNow.contains(m)).toList();
    List<String> confirmed = now.stream().filter(suspects::contains).toList();
    suspects = Set.copyOf(now);
    confirmed.stream().filter(m -> !reported.contains(m)).forEach(m ->
        LOG.warn("{} is mounted where the agent keeps volumes, but the agent did not mount it: reported, left alone", m));
    reported = confirmed;
    return reported;
  }

  /** What the last pass reported. */
  public List<String> reported() {
    return reported;
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
