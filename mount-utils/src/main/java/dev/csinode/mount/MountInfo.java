package dev.csinode.mount;

import java.util.List;

/** One line of /proc/self/mountinfo with its escapes decoded. */
public record MountInfo(int mountId, int parentId, String majorMinor, String root, String mountPoint,
                        List<String> mountOptions, String fsType, String source, List<String> superOptions) {

  public boolean readOnly() {
    return mountOptions.contains("ro");
  }
}
