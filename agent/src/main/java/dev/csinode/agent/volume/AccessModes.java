package dev.csinode.agent.volume;

import dev.csinode.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.csinode.plugins.csi.RegisteredDriver;
import java.util.List;
import java.util.Optional;

/**
 * Kubernetes access modes and the CSI access mode the kubelet sends for them (pkg/volume/csi, csi_client.go): the
 * volume's mode is the first of its PersistentVolume's {@code spec.accessModes} (ReadWriteOnce for an inline volume
 * or a volume without modes), and the driver's node capability SINGLE_NODE_MULTI_WRITER chooses between two tables.
 * A driver that announces it gets the single-node modes that say what a pod may share: ReadWriteOnce (pods on one node
 * may share it) is SINGLE_NODE_MULTI_WRITER and ReadWriteOncePod (one pod) SINGLE_NODE_SINGLE_WRITER. Any other
 * driver may not know those modes, so both are SINGLE_NODE_WRITER. The multi-node modes are the same in both tables.
 */
public final class AccessModes {
  public static final String READ_WRITE_ONCE = "ReadWriteOnce";
  public static final String READ_ONLY_MANY = "ReadOnlyMany";
  public static final String READ_WRITE_MANY = "ReadWriteMany";
  public static final String READ_WRITE_ONCE_POD = "ReadWriteOncePod";
  /** The Kubernetes access modes, in the API's order. */
  public static final List<String> ALL = List.of(READ_WRITE_ONCE, READ_ONLY_MANY, READ_WRITE_MANY, READ_WRITE_ONCE_POD);
  /** The node capability (NodeGetCapabilities) of a driver that knows the single-node sharing modes. */
  public static final String SINGLE_NODE_MULTI_WRITER = "SINGLE_NODE_MULTI_WRITER";

  private AccessModes() {}

  /** The Kubernetes mode the kubelet uses for a volume with these access modes: the first, or ReadWriteOnce for none. */
  public static String ofVolume(List<String> accessModes) {
    return accessModes == null || accessModes.isEmpty() ? READ_WRITE_ONCE : accessModes.get(0);
  }

  /** The CSI mode for a Kubernetes mode, as the kubelet maps it for this driver; UNKNOWN for a mode it does not know. */
  public static Mode toCsi(String accessMode, RegisteredDriver driver) {
    return toCsi(accessMode, driver.hasNodeCapability(SINGLE_NODE_MULTI_WRITER));
  }

  /**
   * The CSI mode for a Kubernetes mode; {@code singleNodeMultiWriter}: the driver announces the node capability
   * SINGLE_NODE_MULTI_WRITER. UNKNOWN for a mode Kubernetes does not have (or null).
   */
  public static Mode toCsi(String accessMode, boolean singleNodeMultiWriter) {
    if (accessMode == null) {
      return Mode.UNKNOWN;
    }
    return switch (accessMode) {
      case READ_WRITE_ONCE -> singleNodeMultiWriter ? Mode.SINGLE_NODE_MULTI_WRITER : Mode.SINGLE_NODE_WRITER;
      case READ_WRITE_ONCE_POD -> singleNodeMultiWriter ? Mode.SINGLE_NODE_SINGLE_WRITER : Mode.SINGLE_NODE_WRITER;
      case READ_ONLY_MANY -> Mode.MULTI_NODE_READER_ONLY;
      case READ_WRITE_MANY -> Mode.MULTI_NODE_MULTI_WRITER;
      default -> Mode.UNKNOWN;
    };
  }

  /**
   * What is wrong with a list of access modes, as the API server would refuse it, or empty when nothing is: a null
   * or unknown entry, or ReadWriteOncePod with another mode. {@code field} names the list in the message (e.g.
   * {@code claim default/c spec.accessModes}). An empty list is not checked here. For what the agent creates
   * (CreateVolume for a claim); a PersistentVolume that exists is checked by {@link #unknown} only.
   */
  public static Optional<String> problem(List<String> accessModes, String field) {
    Optional<String> unknown = unknown(accessModes, field);
    if (unknown.isPresent() || accessModes == null) {
      return unknown;
    }
    if (accessModes.size() > 1 && accessModes.contains(READ_WRITE_ONCE_POD)) {
      return Optional.of(field + " has " + READ_WRITE_ONCE_POD + " with other modes " + accessModes
          + "; ReadWriteOncePod must be the only access mode");
    }
    return Optional.empty();
  }

  /**
   * A null or unknown entry in a list of access modes, which no CSI mode stands for. The kubelet checks nothing
   * else on a PersistentVolume (it takes the first mode, ReadWriteOnce for none), and neither does the node side
   * here: a volume an earlier version mounted with such a list is never torn down for it after an upgrade.
   */
  public static Optional<String> unknown(List<String> accessModes, String field) {
    if (accessModes == null) {
      return Optional.empty();
    }
    for (int i = 0; i < accessModes.size(); i++) {
      String mode = accessModes.get(i);
      if (mode == null || !ALL.contains(mode)) {
        return Optional.of(field + "[" + i + "] is " + (mode == null ? "null" : "'" + mode + "'") + "; expected one of "
            + String.join(", ", ALL));
      }
    }
    return Optional.empty();
  }
}
