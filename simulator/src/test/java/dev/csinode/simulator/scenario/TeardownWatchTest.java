package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.reconciler.Reconciler;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** When wait-gone holds: the pod out of the sources, unpublished, and its volumes nobody else wants unstaged. */
@Tag("unit")
class TeardownWatchTest {
  private static final String V = "kubernetes.io/csi/d^v1";
  private static final TeardownWatch.Known A = new TeardownWatch.Known("uid-a", Set.of(V));

  private static Reconciler.Snapshot snapshot(List<PodVolumes> pods, List<VolumeView> actual) {
    Map<String, PodVolumes> byKey = new LinkedHashMap<>();
    Map<String, DesiredVolume> volumes = new LinkedHashMap<>();
    for (PodVolumes p : pods) {
      byKey.put(p.podKey(), p);
      p.uniqueNames().forEach(u -> volumes.put(u, new DesiredVolume(null, Map.of())));
    }
    Map<String, VolumeView> byName = new LinkedHashMap<>();
    actual.forEach(v -> byName.put(v.uniqueName(), v));
    return new Reconciler.Snapshot(new DesiredStateOfWorld(volumes, byKey), byName, Map.of(), Set.of(), Map.of(), List.of(), List.of());
  }

  private static PodVolumes pod(String uid, String key) {
    return new PodVolumes(uid, key, List.of(V), Map.of(V, "data"), List.of(), List.of(), List.of());
  }

  private static VolumeView staged(MountedPod... pods) {
    return new VolumeView(V, null, true, DeviceState.MOUNTED, "/root/plugins/globalmount", List.of(pods));
  }

  private static MountedPod publishedFor(String uid, String key) {
    return new MountedPod(uid, key, MountState.MOUNTED, "/root/pods/" + uid + "/volumes/mount");
  }

  @Test
  void notGoneWhileASourceHasThePod() {
    assertFalse(TeardownWatch.gone(snapshot(List.of(pod("uid-a", "default/a")), List.of()), "default/a", A));
  }

  @Test
  void notGoneWhileAVolumeIsPublishedForIt() {
    assertFalse(TeardownWatch.gone(snapshot(List.of(), List.of(staged(publishedFor("uid-a", "default/a")))), "default/a", A));
    // Found on disk after a restart, a publish knows only the pod's uid.
    assertFalse(TeardownWatch.gone(snapshot(List.of(), List.of(staged(publishedFor("uid-a", "uid-a")))), "default/a", A));
  }

  @Test
  void notGoneWhileItsVolumeIsStagedForNobody() {
    assertFalse(TeardownWatch.gone(snapshot(List.of(), List.of(staged())), "default/a", A));
    assertTrue(TeardownWatch.gone(snapshot(List.of(), List.of()), "default/a", A));
  }

  @Test
  void goneWhileAnotherPodKeepsItsVolume() {
    Reconciler.Snapshot s = snapshot(List.of(pod("uid-b", "default/b")), List.of(staged(publishedFor("uid-b", "default/b"))));
    assertTrue(TeardownWatch.gone(s, "default/a", A));
    assertFalse(TeardownWatch.gone(s, "default/b", new TeardownWatch.Known("uid-b", Set.of(V))));
  }

  @Test
  void withItsVolumesUnknownEveryUnwantedVolumeMustBeGone() {
    assertFalse(TeardownWatch.gone(snapshot(List.of(), List.of(staged())), "default/a", null));
    assertTrue(TeardownWatch.gone(snapshot(List.of(pod("uid-b", "default/b")), List.of(staged(publishedFor("uid-b", "default/b")))),
        "default/a", null));
  }

  @Test
  void theWholeNodeIsTornDownWhenNothingIsLeft() {
    assertFalse(TeardownWatch.gone(snapshot(List.of(), List.of(staged())), null, null));
    assertTrue(TeardownWatch.gone(snapshot(List.of(), List.of()), null, null));
  }
}
