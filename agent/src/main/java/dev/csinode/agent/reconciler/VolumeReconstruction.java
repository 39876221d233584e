package dev.csinode.agent.reconciler;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.agent.volume.VolumeDirectories;
import dev.csinode.agent.volume.VolumeDirectories.Found;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Adds to the actual state what the disk shows mounted but the journal does not know (the kubelet's volume
 * reconstruction): a pod volume whose publish path is a mount point, and a staging path that is one. Both come
 * back UNCERTAIN, so a volume still wanted is staged and published again (both idempotent) and one no pod wants
 * is unpublished and unstaged. A directory with a vol_data.json and nothing mounted is left to the orphan
 * cleanup: there is nothing to tear down, and after a reboot that would be every volume.
 *
 * <p>What vol_data.json cannot say is taken at its safest: mount options and fs type are empty (teardown does
 * not need them; a wanted volume is set up from its desired spec) and the volume is not recorded as attached,
 * so a driver that needs ControllerUnpublish must be told by a pod source that still names the volume.
 */
public final class VolumeReconstruction {
  private VolumeReconstruction() {}

  /** Returns the unique names of the volumes added or extended. */
  public static List<String> addFromDisk(VolumeDirectories.Scan scan, KubeletLayout layout, ActualStateOfWorld asw) {
    List<String> added = new ArrayList<>();
    for (Found f : scan.podVolumes()) {
      if (!f.mounted()) {
        continue;
      }
      String unique = f.inline() ? KubeletLayout.uniqueInlineVolumeName(f.podUid(), f.specName())
          : KubeletLayout.uniqueVolumeName(f.driver(), f.volumeHandle());
      AttachedVolume known = asw.get(unique);
      if (known != null && known.pods.containsKey(f.podUid())) {
        continue; // the journal's record is better
      }
      AttachedVolume v = asw.getOrAdd(known != null ? known.spec : spec(unique, f));
      v.pods.put(f.podUid(), new MountedPod(f.podUid(), f.podUid(), MountState.UNCERTAIN, f.path().toString()));
      if (!f.inline() && v.device == DeviceState.NOT_MOUNTED) {
        v.device = DeviceState.UNCERTAIN;
        v.stagingPath = (f.block() ? layout.blockStagingPath(f.specName()) : layout.stagingPath(f.driver(), f.volumeHandle())).toString();
      }
      added.add(unique);
    }
    for (Found f : scan.staging()) {
      String unique = KubeletLayout.uniqueVolumeName(f.driver(), f.volumeHandle());
      if (!f.mounted() || asw.get(unique) != null && asw.get(unique).device != DeviceState.NOT_MOUNTED) {
        continue;
      }
      AttachedVolume v = asw.getOrAdd(spec(unique, f));
      v.device = DeviceState.UNCERTAIN;
      v.stagingPath = f.path().toString();
      added.add(unique);
    }
    return added.stream().distinct().toList();
  }

  private static VolumeSpec spec(String unique, Found f) {
    return new VolumeSpec(unique, f.driver(), f.volumeHandle(), f.specName(), f.inline(), f.block(), "", List.of(), "ReadWriteOnce",
        Map.of(), null, null, false, false, "None", f.inline() ? null : f.specName(), null);
  }
}
