package dev.csinode.mount;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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

  /** Grows a mounted ext4 filesystem to fill its device; needs CAP_SYS_RESOURCE. */
  public void growExt4Online(String device) {
    Commands.Result r = Commands.run(List.of("resize2fs", device), TIMEOUT);
    if (r.exitCode() != 0) {
      if (r.stderr().contains("Permission denied")) {
        throw new OnlineResizeDenied(device);
      }
      throw new MountException("resize2fs " + device + " failed (exit " + r.exitCode() + "): " + r.stderr().trim());
    }
  }

  /** Grows an unmounted ext4 filesystem to fill its device when the device is larger; returns true if it grew. */
  public boolean growExt4OfflineIfSmaller(String device, long deviceBytes) {
    String header = Commands.check(List.of("dumpe2fs", "-h", device), TIMEOUT);
    long blocks = field(header, "Block count:");
    long blockSize = field(header, "Block size:");
    if (blocks * blockSize + blockSize > deviceBytes) {
      return false;
    }
    Commands.Result fsck = Commands.run(List.of("e2fsck", "-f", "-p", device), TIMEOUT);
    if (fsck.exitCode() > 1) {
      throw new MountException("e2fsck " + device + " before growing failed (exit " + fsck.exitCode() + "): " + fsck.stdout().trim());
    }
    Commands.check(List.of("resize2fs", device), TIMEOUT);
    return true;
  }

  private static long field(String header, String name) {
    return header.lines().filter(l -> l.startsWith(name)).findFirst()
        .map(l -> Long.parseLong(l.substring(name.length()).trim()))
        .orElseThrow(() -> new MountException("dumpe2fs output has no '" + name + "'"));
  }

  /** True when this process may grow mounted ext4 filesystems (CAP_SYS_RESOURCE is effective). */
  public static boolean canResizeOnline() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("CapEff:")) {
          long caps = Long.parseUnsignedLong(line.substring(7).trim(), 16);
          return (caps & (1L << 24)) != 0;
        }
      }
    } catch (IOException | NumberFormatException e) {
      return false;
    }
    return false;
  }

  /** The kernel refused an online resize: the process lacks CAP_SYS_RESOURCE. */
  public static final class OnlineResizeDenied extends MountException {
    public OnlineResizeDenied(String device) {
      super("the kernel refused to grow the mounted filesystem on " + device
          + ": online ext4 resize needs CAP_SYS_RESOURCE, which this process lacks");
    }
  }
}
