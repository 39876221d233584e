package dev.csinode.agent.housekeeping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.fake.FakeMounter;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.volume.KubeletLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding and removing orphaned pod directories, with fake mounts: what may go and what must stay. */
@Tag("unit")
class OrphanedPodDirectoriesTest {
  static final String UID = "6c1a2b3c-0000-4000-8000-000000000002";
  @TempDir Path tmp;
  KubeletLayout layout;
  final FakeMounter mounter = new FakeMounter();
  Path mount;

  @BeforeEach
  void setUp() throws Exception {
    layout = new KubeletLayout(tmp.resolve("kubelet"));
    mount = Files.createDirectories(layout.publishPath(UID, "pv-1"));
    Files.writeString(mount.getParent().resolve("vol_data.json"), "{}");
  }

  Orphan found() {
    List<Orphan> orphans = OrphanedPodDirectories.find(layout, Set.of(), mounter.table());
    assertEquals(1, orphans.size(), orphans.toString());
    return orphans.get(0);
  }

  @Test
  void aPodDirectoryOfWhatTheAgentMadeIsRemoved() {
    Orphan o = found();
    assertEquals(HousekeepingAction.REMOVE, o.action());
    Orphan r = OrphanedPodDirectories.remove(layout, o, mounter::isMountPoint);
    assertEquals(HousekeepingAction.REMOVED, r.action(), r.reason());
    assertFalse(Files.exists(layout.podDir(UID)));
  }

  @Test
  void aPodDirectoryWithAMountBelowItIsKeptAndNotEntered() {
    mounter.mount(mount);
    Orphan o = found();
    assertEquals(HousekeepingAction.KEEP, o.action());
    assertTrue(o.reason().contains("still mounted: " + mount), o.reason());
  }

  /** Found removable, then something is mounted there before the removal: checked again, kept. */
  @Test
  void aMountThatAppearsBeforeTheRemovalKeepsTheDirectory() {
    Orphan o = found();
    assertEquals(HousekeepingAction.REMOVE, o.action());
    mounter.mount(mount);
    Orphan r = OrphanedPodDirectories.remove(layout, o, mounter::isMountPoint);
    assertEquals(HousekeepingAction.KEEP, r.action());
    assertTrue(r.reason().contains(mount + " is a mount point"), r.reason());
    assertTrue(Files.isDirectory(mount));
  }

  @Test
  void aFileTheAgentDidNotCreateKeepsTheDirectory() throws Exception {
    Files.writeString(mount.resolve("data.txt"), "the user's");
    Orphan o = found();
    assertEquals(HousekeepingAction.KEEP, o.action());
    assertTrue(o.reason().contains("holds files the agent did not create"), o.reason());
  }
}
