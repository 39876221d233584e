package dev.csinode.hostpath;

import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.csi.v1.VolumeCapability.AccessMode.Mode;
import java.util.List;

/** Checks of volume capabilities against the spec and against what a volume can do. */
final class Capabilities {
  private Capabilities() {}

  static void validate(VolumeCapability cap, String field) {
    if (cap.getAccessTypeCase() == VolumeCapability.AccessTypeCase.ACCESSTYPE_NOT_SET) {
      throw CsiErrors.invalid(field + ".access_type must be mount or block");
    }
    if (!cap.hasAccessMode() || cap.getAccessMode().getMode() == Mode.UNKNOWN
        || cap.getAccessMode().getMode() == Mode.UNRECOGNIZED) {
      throw CsiErrors.invalid(field + ".access_mode.mode is required and must be a known mode");
    }
    if (cap.hasMount()) {
      String fs = cap.getMount().getFsType();
      if (!fs.isEmpty() && !fs.equals("ext4")) {
        throw CsiErrors.invalid(field + ".mount.fs_type '" + fs + "' is not supported; this driver formats ext4");
      }
      for (String flag : cap.getMount().getMountFlagsList()) {
        if (flag.indexOf('\0') >= 0 || flag.length() > 256) {
          throw CsiErrors.invalid(field + ".mount.mount_flags contains an invalid flag");
        }
      }
    }
  }

  static void validateAll(List<VolumeCapability> caps, String field) {
    if (caps.isEmpty()) {
      throw CsiErrors.invalid(field + " is required: give at least one volume capability");
    }
    for (int i = 0; i < caps.size(); i++) {
      validate(caps.get(i), field + "[" + i + "]");
    }
  }

  /** Why the volume cannot serve this capability, or null when it can. */
  static String incompatibility(HostpathVolume v, VolumeCapability cap) {
    if (cap.hasBlock() && !v.block()) {
      return "volume " + v.id() + " was created for mount access and cannot be used as a block device";
    }
    if (cap.hasMount() && v.block()) {
      return "volume " + v.id() + " was created for block access and cannot be mounted";
    }
    return null;
  }

  static boolean isReadOnlyMode(Mode mode) {
    return mode == Mode.SINGLE_NODE_READER_ONLY || mode == Mode.MULTI_NODE_READER_ONLY;
  }

  static boolean isSingleWriterMode(Mode mode) {
    return mode == Mode.SINGLE_NODE_WRITER || mode == Mode.SINGLE_NODE_SINGLE_WRITER
        || mode == Mode.SINGLE_NODE_READER_ONLY;
  }
}
