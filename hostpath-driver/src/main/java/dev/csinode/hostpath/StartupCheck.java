package dev.csinode.hostpath;

import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Compares the persisted state with the host after a restart: every recorded staging and publish mount
 * must be in the mount table, every recorded loop device must still back the volume's image, and every
 * volume's data must exist. Mismatches are reported, not repaired: the CO's idempotent retries
 * (NodeStage/NodePublish again) repair them, and guessing here could hide data loss.
 */
final class StartupCheck {
  private StartupCheck() {}

  static List<String> run(VolumeStore store, Storage storage, LoopDevices loops) {
    MountTable mounts = MountTable.read();
    List<String> problems = new ArrayList<>();
    for (HostpathVolume v : store.volumes()) {
      if (!storage.exists(v)) {
        problems.add("volume " + v.id() + ": data is missing at " + storage.dataPath(v));
      }
      HostpathVolume.Staged s = v.staged();
      if (s != null) {
        if (!s.block() && !mounts.isMountPoint(Path.of(s.path()))) {
          problems.add("volume " + v.id() + ": recorded as staged at " + s.path() + " but nothing is mounted there");
        }
        if (s.loopDevice() != null) {
          var actual = loops.find(storage.image(v.id()));
          if (actual.isEmpty()) {
            problems.add("volume " + v.id() + ": loop device " + s.loopDevice() + " no longer backs " + storage.image(v.id()));
          } else if (!actual.get().equals(s.loopDevice())) {
            problems.add("volume " + v.id() + ": image is on " + actual.get() + ", state says " + s.loopDevice());
          }
        }
      }
      for (String target : v.published().keySet()) {
        if (!mounts.isMountPoint(Path.of(target))) {
          problems.add("volume " + v.id() + ": recorded as published at " + target + " but nothing is mounted there"
              + (Files.exists(Path.of(target)) ? "" : " (the path is gone)"));
        }
      }
    }
    return problems;
  }
}
