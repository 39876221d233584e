package dev.csinode.mount;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A snapshot of the calling process's mount table, read from /proc/self/mountinfo. */
public final class MountTable {
  private static final Path SELF = Path.of("/proc/self/mountinfo");
  private final List<MountInfo> mounts;
  /** The topmost mount at each mount point: a node with thousands of volumes asks this thousands of times. */
  private final Map<String, MountInfo> top = new HashMap<>();

  private MountTable(List<MountInfo> mounts) {
    this.mounts = List.copyOf(mounts);
    this.mounts.forEach(m -> top.put(m.mountPoint(), m)); // later lines are mounted on top of earlier ones
  }

  public static MountTable read() {
    try {
      return parse(Files.readString(SELF));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + SELF, e);
    }
  }

  public static MountTable parse(String text) {
    List<MountInfo> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (!line.isBlank()) {
        out.add(parseLine(line));
      }
    }
    return new MountTable(out);
  }

  /**
   * Format (proc(5)): id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions.
   * Spaces, tabs, newlines and backslashes inside fields appear as octal escapes such as {@code \040}.
   */
  static MountInfo parseLine(String line) {
    String[] f = line.split(" ");
    int sep = Arrays.asList(f).indexOf("-");
    if (sep < 6 || sep + 2 >= f.length) {
      throw new IllegalArgumentException("malformed mountinfo line: " + line);
    }
    return new MountInfo(
        Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]), unescape(f[4]),
        List.of(f[5].split(",")), unescape(f[sep + 1]), unescape(f[sep + 2]),
        sep + 3 < f.length ? List.of(f[sep + 3].split(",")) : List.of());
  }

  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && isOctal(s, i + 1)) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static boolean isOctal(String s, int from) {
    if (from + 3 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '7') {
        return false;
      }
    }
    return true;
  }

  public List<MountInfo> all() {
    return mounts;
  }

  /** The topmost mount at exactly this path, if any. */
  public Optional<MountInfo> at(Path path) {
    return Optional.ofNullable(top.get(path.toAbsolutePath().normalize().toString()));
  }

  public boolean isMountPoint(Path path) {
    return at(path).isPresent();
  }

  /** Mount points at or below the path: a directory with any of these must never be removed recursively. */
  public List<MountInfo> under(Path path) {
    String p = path.toAbsolutePath().normalize().toString();
    String prefix = p.endsWith("/") ? p : p + "/";
    return mounts.stream().filter(m -> m.mountPoint().equals(p) || m.mountPoint().startsWith(prefix)).toList();
  }
}
