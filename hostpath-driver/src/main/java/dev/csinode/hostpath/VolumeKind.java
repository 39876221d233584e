package dev.csinode.hostpath;

/** How a volume's bytes are kept on the host. */
public enum VolumeKind {
  /** A directory under the state dir, bind-mounted. Mount access only. */
  DIRECTORY("directory"),
  /** A sparse image file on a loop device: ext4 for mount access, raw for block access. */
  FILESYSTEM("filesystem");

  private final String parameter;

  VolumeKind(String parameter) {
    this.parameter = parameter;
  }

  public String parameter() {
    return parameter;
  }

  public static VolumeKind fromParameter(String value) {
    for (VolumeKind k : values()) {
      if (k.parameter.equals(value)) {
        return k;
      }
    }
    throw CsiErrors.invalid("parameter kind='" + value + "' is not supported; use 'directory' or 'filesystem'");
  }
}
