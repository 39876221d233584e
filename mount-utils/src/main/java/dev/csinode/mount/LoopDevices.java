package dev.csinode.mount;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** Loop devices backed by image files, through losetup(8). */
public final class LoopDevices {
  private static final long TIMEOUT = 30;

  /** Attaches the image to a free loop device, or returns the device it is already attached to. */
  public synchronized String attach(Path image) {
    Optional<String> existing = find(image);
    if (existing.isPresent()) {
      return existing.get();
    }
    return Commands.check(List.of("losetup", "--find", "--show", "--nooverlap", image.toString()), TIMEOUT).trim();
  }

  /** The loop device currently backed by this image, if any. */
  public Optional<String> find(Path image) {
    String out = Commands.check(List.of("losetup", "--noheadings", "--output", "NAME", "--associated", image.toString()), TIMEOUT);
    return out.lines().map(String::trim).filter(s -> !s.isEmpty()).findFirst();
  }

  public void detach(String device) {
    Commands.Result r = Commands.run(List.of("losetup", "--detach", device), TIMEOUT);
    if (r.exitCode() != 0 && !r.stderr().contains("No such device")) {
      throw new MountException("cannot detach loop device " + device + ": " + r.stderr().trim());
    }
  }

  /** Makes the device see a grown backing file. */
  public void refreshCapacity(String device) {
    Commands.check(List.of("losetup", "--set-capacity", device), TIMEOUT);
  }

  /** Every loop device with its backing file, as "NAME BACK-FILE" lines. */
  public static List<String> list() {
    return Commands.check(List.of("losetup", "--noheadings", "--raw", "--output", "NAME,BACK-FILE"), TIMEOUT)
        .lines().map(String::trim).filter(s -> !s.isEmpty()).toList();
  }
}
