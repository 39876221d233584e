package dev.csinode.simulator.invariants;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kubelet's CSI paths (v1.24+) as patterns, written from the kubelet's layout and not from the agent's code: a
 * check of the agent must not use the agent's own idea of the layout, or it could never fail. Relative to the root.
 */
final class KubeletPathPatterns {
  /** One path segment; "." and ".." are refused separately. */
  private static final String SEG = "([^/]+)";
  /** {@code plugins/kubernetes.io/csi/<driver>/<sha256 hex of the volume handle>/globalmount}. */
  static final Pattern FS_STAGING = Pattern.compile("plugins/kubernetes\\.io/csi/" + SEG + "/([0-9a-f]{64})/globalmount");
  /** {@code plugins/kubernetes.io/csi/volumeDevices/staging/<spec name>}. */
  static final Pattern BLOCK_STAGING = Pattern.compile("plugins/kubernetes\\.io/csi/volumeDevices/staging/" + SEG);
  /** {@code pods/<pod uid>/volumes/kubernetes.io~csi/<spec name>/mount}. */
  static final Pattern FS_TARGET = Pattern.compile("pods/" + SEG + "/volumes/kubernetes\\.io~csi/" + SEG + "/mount");
  /** {@code plugins/kubernetes.io/csi/volumeDevices/publish/<spec name>/<pod uid>}. */
  static final Pattern BLOCK_TARGET = Pattern.compile("plugins/kubernetes\\.io/csi/volumeDevices/publish/" + SEG + "/" + SEG);
  /** A CSI driver name: at most 63 characters, alphanumerics, '-' and '.', starting and ending alphanumeric. */
  static final Pattern DRIVER = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?");
  private static final Pattern FS_TARGET_ANYWHERE = Pattern.compile(".*/pods/" + SEG + "/volumes/kubernetes\\.io~csi/" + SEG + "/mount");

  private KubeletPathPatterns() {}

  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The path below the root (as given, not normalized: ".." in a path is wrong in itself), or null when not below it. */
  static String relative(String path, Path root) {
    String r = root.toString();
    String prefix = r.endsWith("/") ? r : r + "/";
    return path.startsWith(prefix) ? path.substring(prefix.length()) : null;
  }

  static boolean goodSegments(Matcher m) {
    for (int i = 1; i <= m.groupCount(); i++) {
      String g = m.group(i);
      if (g != null && (g.equals(".") || g.equals(".."))) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether a publish is of an inline (ephemeral) CSI volume: no staging path, and the handle the kubelet derives for
   * one from the target's pod uid and volume name, {@code csi-<sha256(uid + name)>} (the agent's form
   * {@code csi-<sha256(uid + "/" + name)>} for uids not in the UUID form is accepted too). Inline volumes are never
   * staged.
   */
  static boolean inlinePublish(String volumeId, String stagingPath, String targetPath) {
    if (Calls.blankToNull(stagingPath) != null || targetPath == null || volumeId == null) {
      return false;
    }
    Matcher m = FS_TARGET_ANYWHERE.matcher(targetPath);
    if (!m.matches()) {
      return false;
    }
    String uid = m.group(1);
    String name = m.group(2);
    return volumeId.equals("csi-" + sha256(uid + name)) || volumeId.equals("csi-" + sha256(uid + "/" + name));
  }
}
