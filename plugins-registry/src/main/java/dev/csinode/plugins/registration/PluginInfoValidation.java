package dev.csinode.plugins.registration;

import dev.csinode.pluginregistration.v1.PluginInfo;
import java.util.Arrays;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The kubelet's checks of a plugin's GetInfo answer, with reasons a user can act on. */
public final class PluginInfoValidation {
  public static final String CSI_PLUGIN = "CSIPlugin";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?");
  private static final Pattern VERSION = Pattern.compile("v?(\\d+)(?:\\.(\\d+))?(?:\\.(\\d+))?(?:[-+].*)?");

  private PluginInfoValidation() {}

  /** The reason the plugin cannot be registered, or empty when it can. */
  public static Optional<String> problem(PluginInfo info) {
    if (!CSI_PLUGIN.equals(info.getType())) {
      String type = info.getType().isEmpty() ? "untyped" : info.getType();
      return Optional.of(type + " plugins are not handled by this agent");
    }
    if (!isValidDriverName(info.getName())) {
      return Optional.of("driver name '" + info.getName() + "' is not a valid CSI driver name: at most 63 characters, "
          + "letters, digits, '-' and '.', starting and ending with a letter or digit");
    }
    if (highestSupportedVersion(info).isEmpty()) {
      return Optional.of("driver " + info.getName() + " supports CSI versions " + info.getSupportedVersionsList()
          + "; this agent needs a 1.x version");
    }
    return Optional.empty();
  }

  public static boolean isValidDriverName(String name) {
    return name != null && NAME.matcher(name).matches();
  }

  /** The highest parseable 1.x version the plugin lists, as the kubelet chooses it. */
  public static Optional<String> highestSupportedVersion(PluginInfo info) {
    String best = null;
    int[] bestParts = null;
    for (String v : info.getSupportedVersionsList()) {
      int[] parts = parts(v);
      if (parts == null || parts[0] != 1) {
        continue;
      }
      if (bestParts == null || Arrays.compare(parts, bestParts) > 0) {
        best = v.trim();
        bestParts = parts;
      }
    }
    return Optional.ofNullable(best);
  }

  /**
   * Orders two versions as {@link #highestSupportedVersion} returns them (major, minor, patch; suffixes ignored).
   * An unparseable version is the lowest.
   */
  public static int compareVersions(String a, String b) {
    int[] pa = parts(a);
    int[] pb = parts(b);
    if (pa == null || pb == null) {
      return pa == null ? (pb == null ? 0 : -1) : 1;
    }
    return Arrays.compare(pa, pb);
  }

  private static int[] parts(String v) {
    Matcher m = VERSION.matcher(v.trim());
    if (!m.matches()) {
      return null;
    }
    try {
      return new int[] {Integer.parseInt(m.group(1)), m.group(2) == null ? 0 : Integer.parseInt(m.group(2)),
          m.group(3) == null ? 0 : Integer.parseInt(m.group(3))};
    } catch (NumberFormatException e) {
      return null; // more digits than an int holds: not a version anyone supports
    }
  }
}
