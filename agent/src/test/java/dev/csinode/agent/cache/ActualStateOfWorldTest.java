package dev.csinode.agent.cache;

import static dev.csinode.agent.reconciler.ReconcilerFixture.pv;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Snapshots of the actual state: every change shows in the next one, and one taken earlier never changes. */
@Tag("unit")
class ActualStateOfWorldTest {
  final ActualStateOfWorld asw = new ActualStateOfWorld();
  final VolumeSpec v1 = pv("pv-1");
  final VolumeSpec v2 = pv("pv-2");

  @Test
  void everyChangeOfAVolumeShowsInTheNextSnapshotAndEarlierOnesStayAsTheyWere() {
    AttachedVolume a = asw.getOrAdd(v1);
    Map<String, VolumeView> s0 = asw.snapshot();
    a.device = DeviceState.UNCERTAIN;
    a.stagingPath = "/staging";
    Map<String, VolumeView> s1 = asw.snapshot();
    assertEquals(DeviceState.UNCERTAIN, s1.get(v1.uniqueName()).device());
    assertEquals("/staging", s1.get(v1.uniqueName()).stagingPath());
    assertEquals(DeviceState.NOT_MOUNTED, s0.get(v1.uniqueName()).device(), "an earlier snapshot does not change");
    a.device = DeviceState.MOUNTED;
    a.attached = true;
    Map<String, VolumeView> s2 = asw.snapshot();
    assertEquals(DeviceState.MOUNTED, s2.get(v1.uniqueName()).device());
    assertTrue(s2.get(v1.uniqueName()).attached());
    a.stagingPath = "/other";
    assertEquals("/other", asw.snapshot().get(v1.uniqueName()).stagingPath());

    MountedPod uncertain = new MountedPod("uid-1", "default/a", MountState.UNCERTAIN, "/t");
    a.pods.put("uid-1", uncertain);
    assertEquals(List.of(uncertain), asw.snapshot().get(v1.uniqueName()).pods());
    MountedPod mounted = new MountedPod("uid-1", "default/a", MountState.MOUNTED, "/t");
    a.pods.put("uid-1", mounted); // a state changes by a new MountedPod in the same place
    Map<String, VolumeView> s3 = asw.snapshot();
    assertEquals(List.of(mounted), s3.get(v1.uniqueName()).pods());
    a.pods.remove("uid-1");
    assertEquals(List.of(), asw.snapshot().get(v1.uniqueName()).pods());
    assertEquals(List.of(mounted), s3.get(v1.uniqueName()).pods(), "an earlier snapshot does not change");
  }

  @Test
  void volumesAddedAndRemovedShowInOrderOfAppearance() {
    asw.getOrAdd(v1);
    Map<String, VolumeView> s1 = asw.snapshot();
    asw.getOrAdd(v2);
    assertEquals(List.of(v1.uniqueName(), v2.uniqueName()), List.copyOf(asw.snapshot().keySet()));
    asw.remove(v1.uniqueName());
    assertEquals(List.of(v2.uniqueName()), List.copyOf(asw.snapshot().keySet()));
    asw.remove(v2.uniqueName());
    asw.getOrAdd(v2);
    asw.getOrAdd(v1);
    assertEquals(List.of(v2.uniqueName(), v1.uniqueName()), List.copyOf(asw.snapshot().keySet()));
    assertEquals(List.of(v1.uniqueName()), List.copyOf(s1.keySet()));
  }

  /** A pass that changed nothing hands readers the snapshot they have: a burst's passes cost no copy each. */
  @Test
  void aSnapshotWithNothingChangedIsTheLastOne() {
    AttachedVolume a = asw.getOrAdd(v1);
    asw.getOrAdd(v2);
    Map<String, VolumeView> s1 = asw.snapshot();
    assertSame(s1, asw.snapshot());
    a.device = DeviceState.MOUNTED;
    Map<String, VolumeView> s2 = asw.snapshot();
    assertFalse(s1 == s2);
    assertSame(s1.get(v2.uniqueName()), s2.get(v2.uniqueName()), "an unchanged volume keeps its view");
  }
}
