package dev.csinode.mount;

import java.util.List;

/** Filesystem creation, detection and growth on block devices. */
public final class Filesystems {
  private static final long TIMEOUT = 120;

  /** The filesystem type found on the device, or empty when it holds none. */
  public String probe(String device) {
    Commands.Result r = Commands.run(List.of("blkid", "-p", "-s", "TYPE", "-o", "value", device), TIMEOUT);
    // blkid exits 2 when it finds nothing: an unformatted device.
    return r.exitCode() == 0 ? r.stdout().trim() : "";
  }

  public void formatExt4(String device) {
    Commands.check(List.of("mkfs.ext4", "-F", "-q", "-E", "nodiscard", "-m", "0", device), TIMEOUT);
  }

  /** Grows a (possibly mounted) ext4 filesystem to fill its device. */
  public void growExt4(String device) {
    Commands.check(List.of("resize2fs", device), TIMEOUT);
  }
}
