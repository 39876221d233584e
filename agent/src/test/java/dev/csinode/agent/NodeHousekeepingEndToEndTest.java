package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What the agent finds on disk and did not do itself: orphaned pod directories, mounts it does not manage, and
 * volumes mounted but missing from its journal. Here the agent only reports orphans at its resync
 * ({@code removeOrphans=false}), so the dry run can be seen before a removal is asked for.
 */
class NodeHousekeepingEndToEndTest extends AgentFixture {
  static final String KEEPER = "44444444-aaaa-4bbb-8ccc-000000000001";
  static final String EMPTY = "44444444-aaaa-4bbb-8ccc-0000000000e1";
  static final String MOUNTED = "44444444-aaaa-4bbb-8ccc-0000000000e2";
  static final String FOREIGN = "44444444-aaaa-4bbb-8ccc-0000000000e3";
  static final String DATA = "44444444-aaaa-4bbb-8ccc-0000000000e4";

  @Override
  VolumeManager.Options options() {
    return options(Duration.ofMillis(200), Duration.ofMillis(200), false);
  }

  Map<String, Orphan> byUid(List<Orphan> orphans) {
    return orphans.stream().collect(Collectors.toMap(Orphan::podUid, o -> o));
  }

  @Test
  void orphanedPodDirectoriesAreReportedAndOnlyWhatTheAgentMadeIsRemoved() throws Exception {
    inlinePodReady("keeper", KEEPER);
    Path pods = root.resolve("pods");
    // Left by a pod whose teardown finished but whose directories were not removed: only the agent's own files.
    Path emptyVol = Files.createDirectories(pods.resolve(EMPTY).resolve("volumes/kubernetes.io~csi/gone/mount"));
    Files.writeString(emptyVol.getParent().resolve("vol_data.json"), "{\"driverName\":\"hostpath.csinode.dev\"}");
    Files.writeString(emptyVol.getParent().resolve("vol_data.json.17.tmp"), "{"); // a replacement cut short by a crash
    Files.createDirectories(pods.resolve(EMPTY).resolve("volumeDevices/kubernetes.io~csi"));
    Files.createSymbolicLink(pods.resolve(EMPTY).resolve("volumeDevices/kubernetes.io~csi/blk"), Path.of("/nonexistent"));
    // Something is mounted below it, which the agent did not mount.
    Path busy = Files.createDirectories(pods.resolve(MOUNTED).resolve("volumes/kubernetes.io~csi/busy/mount"));
    Path source = Files.createDirectories(root.resolve("elsewhere"));
    Files.writeString(source.resolve("data.txt"), "mounted data");
    new Mounter().bind(source, busy, false, List.of());
    // A runtime's own file in a pod directory, and data written into an unmounted volume directory.
    Files.createDirectories(pods.resolve(FOREIGN));
    Files.writeString(pods.resolve(FOREIGN).resolve("etc-hosts"), "127.0.0.1 localhost\n");
    Path stray = Files.createDirectories(pods.resolve(DATA).resolve("volumes/kubernetes.io~csi/v/mount"));
    Files.writeString(stray.resolve("precious.txt"), "do not delete");

    Map<String, Orphan> dryRun = byUid(Await.result(agent.volumeManager().orphans(false)));
    assertEquals(java.util.Set.of(EMPTY, MOUNTED, FOREIGN, DATA), dryRun.keySet(), "the wanted pod is never an orphan: " + dryRun);
    assertEquals(HousekeepingAction.REMOVE, dryRun.get(EMPTY).action(), dryRun.toString());
    assertEquals(HousekeepingAction.KEEP, dryRun.get(MOUNTED).action());
    assertTrue(dryRun.get(MOUNTED).reason().contains("still mounted: " + busy), dryRun.get(MOUNTED).reason());
    assertEquals(HousekeepingAction.KEEP, dryRun.get(FOREIGN).action());
    assertTrue(dryRun.get(FOREIGN).reason().contains("etc-hosts"), dryRun.get(FOREIGN).reason());
    assertEquals(HousekeepingAction.KEEP, dryRun.get(DATA).action());
    assertTrue(dryRun.get(DATA).reason().contains("precious.txt"), dryRun.get(DATA).reason());
    assertTrue(Files.exists(emptyVol), "a dry run changes nothing");

    // The resync (which here only reports) lists them too, with the mount the agent does not manage.
    eventually(() -> agent.status().unmanagedMounts().equals(List.of(busy.toString()))
        && agent.status().orphanedPodDirectories().size() == 4, () -> "" + agent.status());
    String metrics = scrape();
    assertTrue(metrics.contains("kubelet_orphan_pod_cleaned_volumes 4.0"), metrics);
    assertTrue(metrics.contains("kubelet_orphan_pod_cleaned_volumes_errors 3.0"), metrics);
    assertTrue(metrics.contains("csi_node_agent_unmanaged_mounts 1.0"), metrics);

    Map<String, Orphan> removed = byUid(Await.result(agent.volumeManager().orphans(true)));
    assertEquals(HousekeepingAction.REMOVED, removed.get(EMPTY).action(), removed.toString());
    assertFalse(Files.exists(pods.resolve(EMPTY)));
    assertTrue(new Mounter().isMountPoint(busy), "a mount the agent did not make is left alone");
    assertEquals("mounted data", Files.readString(busy.resolve("data.txt")));
    assertEquals("do not delete", Files.readString(stray.resolve("precious.txt")));
    assertTrue(Files.exists(pods.resolve(FOREIGN).resolve("etc-hosts")));
    assertTrue(ready("default/keeper"));
    assertTrue(new Mounter().isMountPoint(Path.of(pod("default/keeper").orElseThrow().volumes().get(0).hostPath())));

    // Once unmounted (by whoever mounted it), the directory can go too.
    new Mounter().unmount(busy);
    assertEquals(HousekeepingAction.REMOVED, byUid(Await.result(agent.volumeManager().orphans(true))).get(MOUNTED).action());
    assertFalse(Files.exists(pods.resolve(MOUNTED)));
    eventually(() -> agent.status().unmanagedMounts().isEmpty(), () -> "" + agent.status().unmanagedMounts());
  }

  @Test
  void volumesMountedOnDiskButMissingFromTheJournalAreTakenOverAndTornDownWhenNotWanted() throws Exception {
    String keepHandle = volumeHandle("keep", "directory");
    String goneHandle = volumeHandle("gone", "filesystem");
    write("claims.yaml", boundClaim("keep", DRIVER, keepHandle, "", "") + "---\n" + boundClaim("gone", DRIVER, goneHandle, "ext4", ""));
    write("pod-keep.yaml", pod("keep", "55555555-aaaa-4bbb-8ccc-000000000001", claimVolume("keep")));
    write("pod-gone.yaml", pod("gone", "55555555-aaaa-4bbb-8ccc-000000000002", claimVolume("gone")));
    eventually(() -> ready("default/keep") && ready("default/gone"), () -> agent.volumeManager().pods().toString());
    Path keepTarget = Path.of(pod("default/keep").orElseThrow().volumes().get(0).hostPath());
    Path goneTarget = Path.of(pod("default/gone").orElseThrow().volumes().get(0).hostPath());
    Path goneStaging = Path.of(pod("default/gone").orElseThrow().volumes().get(0).stagingPath());
    Files.writeString(keepTarget.resolve("kept.txt"), "still here");

    // The agent stops (volumes stay mounted) and its journal is lost; one pod goes while it is down.
    Await.result(agent.stop());
    Files.delete(root.resolve("csi-node-agent/journal/journal.log"));
    Files.delete(manifests.resolve("pod-gone.yaml"));
    agent = newAgent();
    Await.result(agent.start());

    eventually(() -> ready("default/keep") && agent.volumeManager().volumes().size() == 1
        && !new Mounter().isMountPoint(goneStaging), () -> agent.volumeManager().volumes().toString());
    assertFalse(new Mounter().isMountPoint(goneTarget), "the pod that went is unpublished");
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(goneHandle)), "and its volume unstaged (loop device detached)");
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(keepTarget.toString())).count(),
        "the wanted pod's volume is taken over, not mounted twice");
    assertEquals("still here", Files.readString(keepTarget.resolve("kept.txt")));
    String metrics = scrape();
    assertTrue(metrics.contains("reconstruct_volume_operations_total 2.0"), metrics);
    // Its directory is an orphan once torn down: reported here (removal is off), with nothing mounted below.
    eventually(() -> agent.status().orphanedPodDirectories().stream().anyMatch(o -> o.podUid().equals("55555555-aaaa-4bbb-8ccc-000000000002")
        && o.action() == HousekeepingAction.REMOVE), () -> "" + agent.status().orphanedPodDirectories());
  }
}
