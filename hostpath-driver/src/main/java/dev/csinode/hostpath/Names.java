package dev.csinode.hostpath;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** Validation of every name that could reach a path, and of paths handed in by the CO. */
public final class Names {
  /** Our volume and snapshot ids; also accepted for CO-generated ephemeral ids (csi-<sha256>). */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern DRIVER = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?");

  private Names() {}

  public static boolean isValidId(String id) {
    return id != null && ID.matcher(id).matches() && !id.contains("..");
  }

  public static boolean isValidDriverName(String name) {
    return name != null && DRIVER.matcher(name).matches();
  }

  /** CreateVolume/CreateSnapshot names: any text up to 128 bytes without the spec's banned control characters. */
  public static String nameProblem(String name) {
    if (name.getBytes(StandardCharsets.UTF_8).length > 128) {
      return "is longer than 128 bytes";
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if ((c <= 0x08) || c == 0x0B || c == 0x0C || (c >= 0x0E && c <= 0x1F) || (c >= 0x7F && c <= 0x9F)) {
        return "contains control character U+" + String.format("%04X", (int) c);
      }
    }
    return null;
  }

  /** A CO-supplied path must be absolute and free of '.' and '..' segments, so what we mount is what was named. */
  public static String pathProblem(String path) {
    if (!path.startsWith("/")) {
      return "must be an absolute path";
    }
    if (path.indexOf('\0') >= 0) {
      return "contains a NUL byte";
    }
    // Segment by segment without splitting: every staging and target path of every call passes here.
    for (int start = 1, end; start <= path.length(); start = end + 1) {
      end = path.indexOf('/', start);
      end = end < 0 ? path.length() : end;
      int n = end - start;
      if ((n == 1 || n == 2) && path.charAt(start) == '.' && (n == 1 || path.charAt(start + 1) == '.')) {
        return "must not contain '.' or '..' segments";
      }
    }
    if (path.length() > 4096) {
      return "is longer than 4096 characters";
    }
    return null;
  }

  /** Resolves a child of a trusted directory, refusing anything that would leave it. */
  public static Path within(Path dir, String child) {
    Path p = dir.resolve(child).normalize();
    if (!p.getParent().equals(dir.normalize())) {
      throw new IllegalArgumentException("'" + child + "' would leave " + dir);
    }
    return p;
  }
}
