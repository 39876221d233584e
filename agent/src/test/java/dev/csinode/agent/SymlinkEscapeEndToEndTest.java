package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Nothing the agent or the bundled driver makes lands outside the root through a symbolic link: a link at a pod
 * directory, a publish path, a staging directory or a block publish path is an error on that volume's status,
 * never followed, and the other volumes proceed; the resync never mounts again where a link replaced a publish
 * path; the orphan cleanup removes only the exact files the agent writes.
 */
class SymlinkEscapeEndToEndTest extends AgentFixture {
  static final String LINKED_POD = "66666666-aaaa-4bbb-8ccc-000000000001";
  static final String LINKED_LEAF = "66666666-aaaa-4bbb-8ccc-000000000002";
  static final String FINE = "66666666-aaaa-4bbb-8ccc-000000000003";
  static final String STAGED = "66666666-aaaa-4bbb-8ccc-000000000004";
  static final String RAW = "66666666-aaaa-4bbb-8ccc-000000000005";
  static final String SWAPPED = "66666666-aaaa-4bbb-8ccc-000000000006";
  static final String ORPHAN = "66666666-aaaa-4bbb-8ccc-000000000007";
  static final String FILE_POD = "66666666-aaaa-4bbb-8ccc-000000000008";
  static final String RESTAGED = "66666666-aaaa-4bbb-8ccc-000000000009";
  static final String REMAPPED = "66666666-aaaa-4bbb-8ccc-000000000010";
  static final String ABOVE = "66666666-aaaa-4bbb-8ccc-000000000011";
  Path outside;

  @BeforeEach
  void outside() throws Exception {
    outside = Files.createTempDirectory("csi-node-agent-test-outside-");
  }

  @AfterEach
  void cleanOutside() throws Exception {
    var left = MountTable.read().under(outside); // what the code before this fix mounted there
    for (int i = left.size() - 1; i >= 0; i--) {
      new Mounter().unmountAll(Path.of(left.get(i).mountPoint()));
    }
    try (var walk = Files.walk(outside)) {
      walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private PodVolume volume(String podKey) {
    return pod(podKey).orElseThrow().volumes().get(0);
  }

  private void failsNaming(String podKey, Path link) throws InterruptedException {
    eventually(() -> pod(podKey).map(p -> p.volumes().get(0).lastError() != null
        && p.volumes().get(0).lastError().contains(link + " is a symbolic link")).orElse(false), () -> "" + pod(podKey));
    assertFalse(ready(podKey));
  }

  private void nothingOutside() throws Exception {
    assertEquals(List.of(), MountTable.read().under(outside), "nothing mounted outside the root");
    try (var walk = Files.walk(outside)) {
      assertEquals(List.of(outside), walk.toList(), "nothing written outside the root");
    }
  }

  @Test
  void aLinkAtAPodDirectoryOrAPublishPathIsAnErrorOnThatVolumeOnly() throws Exception {
    Files.createDirectories(root.resolve("pods"));
    Path podLink = Files.createSymbolicLink(root.resolve("pods").resolve(LINKED_POD), outside);
    Path leafLink = root.resolve("pods").resolve(LINKED_LEAF).resolve("volumes/kubernetes.io~csi/data/mount");
    Files.createDirectories(leafLink.getParent());
    Files.createSymbolicLink(leafLink, outside);
    write("linked-pod.yaml", pod("linked-pod", LINKED_POD, "- name: data\n  csi: {driver: hostpath.csinode.dev}\n"));
    write("linked-leaf.yaml", pod("linked-leaf", LINKED_LEAF, "- name: data\n  csi: {driver: hostpath.csinode.dev}\n"));
    Path podFile = Files.writeString(root.resolve("pods").resolve(FILE_POD), "a file where the pod directory belongs");
    write("file-pod.yaml", pod("file-pod", FILE_POD, "- name: data\n  csi: {driver: hostpath.csinode.dev}\n"));
    inlinePodReady("fine", FINE);
    failsNaming("default/linked-pod", podLink);
    failsNaming("default/linked-leaf", leafLink);
    eventually(() -> pod("default/file-pod").map(p -> p.volumes().get(0).lastError() != null
        && p.volumes().get(0).lastError().contains(podFile + " is not a directory")).orElse(false), () -> "" + pod("default/file-pod"));
    assertEquals("a file where the pod directory belongs", Files.readString(podFile));
    nothingOutside();
    assertTrue(Files.isSymbolicLink(podLink) && Files.isSymbolicLink(leafLink), "the links are left alone");

    // The pods go: nothing of theirs is torn down through a link; the link is left and the rest proceeds.
    Files.delete(manifests.resolve("linked-pod.yaml"));
    Files.delete(manifests.resolve("linked-leaf.yaml"));
    eventually(() -> pod("default/linked-pod").isEmpty() && pod("default/linked-leaf").isEmpty(), () -> "" + agent.volumeManager().pods());
    Await.result(agent.volumeManager().reconciler().housekeep(true));
    nothingOutside();
    assertTrue(ready("default/fine"));
  }

  @Test
  void aLinkAtAStagingDirectoryIsAnErrorAndNeverFollowed() throws Exception {
    String handle = volumeHandle("staged", "directory");
    Path stagingDir = root.resolve("plugins/kubernetes.io/csi").resolve(DRIVER).resolve(KubeletLayout.sha256(handle));
    Files.createDirectories(stagingDir.getParent());
    Files.createSymbolicLink(stagingDir, outside);
    write("staged.yaml", boundClaim("staged", DRIVER, handle, "", "") + "---\n" + pod("staged", STAGED, claimVolume("staged")));
    failsNaming("default/staged", stagingDir);
    nothingOutside();
  }

  @Test
  void aLinkAtABlockPublishPathIsAnErrorAndNeverFollowed() throws Exception {
    Path publishDir = root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/rawpv");
    Files.createDirectories(publishDir.getParent());
    Files.createSymbolicLink(publishDir, outside); // the directory above the pod's block target
    writeBlockPod("raw", RAW);
    failsNaming("default/raw", publishDir);
    nothingOutside();
    Files.delete(manifests.resolve("raw.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes()); // unstaged: no loop device kept
  }

  /** A publish path swapped for a link after its mount went: reported, and no resync mounts there again. */
  @Test
  void theResyncNeverMountsAgainThroughALinkThatReplacedAPublishPath() throws Exception {
    inlinePodReady("swapped", SWAPPED);
    Path target = Path.of(volume("default/swapped").hostPath());
    new Mounter().unmountAll(target);
    Files.delete(target);
    Files.createSymbolicLink(target, outside);
    failsNaming("default/swapped", target);
    for (int i = 0; i < 5; i++) { // more passes: still nothing mounted there, and nothing stacked
      Await.result(agent.volumeManager().reconciler().housekeep(false));
    }
    nothingOutside();
    assertEquals(List.of(), MountTable.read().under(target.getParent()));
    assertNotEquals("published", volume("default/swapped").state());

    // The pod goes: the link (nothing mounted there) is removed, not followed, and the volume is torn down.
    Files.delete(manifests.resolve("swapped.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    assertFalse(Files.exists(target, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the link is gone");
    nothingOutside();
  }

  /**
   * A pod directory swapped for a link while its volume is published: the agent cannot know what is mounted where
   * the link points, so the teardown stops there, and the volume's status says why.
   */
  @Test
  void aLinkAboveAPublishPathStopsTheTeardownAndTheVolumeStatusSaysSo() throws Exception {
    inlinePodReady("above", ABOVE);
    Path podDir = root.resolve("pods").resolve(ABOVE);
    Files.move(podDir, root.resolve("pods").resolve("moved-away")); // its mount moves along
    Files.createSymbolicLink(podDir, outside);
    Files.delete(manifests.resolve("above.yaml"));
    eventually(() -> agent.volumeManager().volumes().stream().anyMatch(v -> v.lastError() != null
        && v.lastError().contains(podDir + ", above its publish path") && v.lastError().contains("cannot be torn down")),
        () -> "" + agent.volumeManager().volumes());
    assertTrue(Files.isSymbolicLink(podDir), "the link is left alone");
    nothingOutside();
  }

  /** A staging path swapped for a link after its mount went: the link is removed and the volume unstaged. */
  @Test
  void aLinkThatReplacedAStagingPathIsRemovedAndTheVolumeTornDown() throws Exception {
    String handle = volumeHandle("restaged", "directory");
    write("restaged.yaml", boundClaim("restaged", DRIVER, handle, "", "") + "---\n" + pod("restaged", RESTAGED, claimVolume("restaged")));
    eventually(() -> ready("default/restaged"), () -> "" + pod("default/restaged"));
    Path staging = Path.of(volume("default/restaged").stagingPath());
    new Mounter().unmountAll(staging);
    Files.delete(staging);
    Files.createSymbolicLink(staging, outside);
    Files.delete(manifests.resolve("restaged.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    assertFalse(Files.exists(staging, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the link is gone");
    nothingOutside();
  }

  /**
   * A block volume's publish target is a file the driver binds the device onto: once that mount is gone, the file
   * is the agent's (not foreign) and the resync publishes the volume there again.
   */
  @Test
  void aBlockVolumeWhosePublishMountVanishedIsPublishedAgain() throws Exception {
    writeBlockPod("remapped", REMAPPED);
    eventually(() -> ready("default/remapped"), () -> "" + pod("default/remapped"));
    Path target = root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/remappedpv").resolve(REMAPPED);
    Mounter mounter = new Mounter();
    assertTrue(mounter.isMountPoint(target));
    mounter.unmountAll(target);
    assertTrue(Files.isRegularFile(target, java.nio.file.LinkOption.NOFOLLOW_LINKS), "the driver's file stays");
    Await.result(agent.volumeManager().reconciler().housekeep(false));
    eventually(() -> mounter.isMountPoint(target) && ready("default/remapped"), () -> "" + pod("default/remapped"));
    assertNull(volume("default/remapped").lastError());
    Files.delete(manifests.resolve("remapped.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
  }

  /** Only the exact paths the agent writes go: a user's vol_data.json in a volume's mount directory stays. */
  @Test
  void theOrphanCleanupLeavesAUsersFileNamedVolDataJson() throws Exception {
    // Housekeeping refuses to run until the pod sources delivered (the fixture waits only for the driver).
    eventually(() -> {
      try {
        Await.result(agent.volumeManager().reconciler().housekeep(false));
        return true;
      } catch (Exception e) {
        return false;
      }
    }, () -> "the pod sources never delivered");
    Path volDir = Files.createDirectories(root.resolve("pods").resolve(ORPHAN).resolve("volumes/kubernetes.io~csi/v"));
    Files.writeString(volDir.resolve("vol_data.json"), "{\"driverName\":\"hostpath.csinode.dev\"}"); // the agent's
    Path users = Files.writeString(Files.createDirectories(volDir.resolve("mount")).resolve("vol_data.json"), "the user's");
    Path usersDir = Files.createDirectories(volDir.resolve("mount/empty-dir-of-the-user"));
    Orphan o = Await.result(agent.volumeManager().orphans(true)).stream().filter(x -> x.podUid().equals(ORPHAN)).findFirst().orElseThrow();
    assertEquals(HousekeepingAction.KEEP, o.action(), o.toString());
    assertTrue(o.reason().contains(users.toString()), o.reason());
    assertEquals("the user's", Files.readString(users));
    assertTrue(Files.isDirectory(usersDir));

    Files.delete(users);
    Files.delete(usersDir);
    o = Await.result(agent.volumeManager().orphans(true)).stream().filter(x -> x.podUid().equals(ORPHAN)).findFirst().orElseThrow();
    assertEquals(HousekeepingAction.REMOVED, o.action(), o.toString());
    assertFalse(Files.exists(root.resolve("pods").resolve(ORPHAN)));
  }

  /**
   * A block volume made through the driver, and {@code <name>.yaml}: its PV {@code <name>pv}, a claim of that name
   * bound to it, and pod {@code default/<name>} with that uid using it as a device.
   */
  private void writeBlockPod(String name, String uid) throws Exception {
    String handle;
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins").resolve(DRIVER).resolve("csi.sock")))) {
      handle = Await.result(c.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
          .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(16L << 20))
          .addVolumeCapabilities(VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
              .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
          .build(), Duration.ofSeconds(30))).getVolume().getVolumeId();
    }
    write(name + ".yaml", """
        apiVersion: v1
        kind: PersistentVolume
        metadata: {name: %1$spv}
        spec:
          capacity: {storage: 16Mi}
          accessModes: [ReadWriteOnce]
          volumeMode: Block
          claimRef: {namespace: default, name: %1$spv}
          csi: {driver: hostpath.csinode.dev, volumeHandle: %2$s}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %1$spv, namespace: default}
        spec:
          accessModes: [ReadWriteOnce]
          volumeMode: Block
          resources: {requests: {storage: 16Mi}}
          volumeName: %1$spv
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: %1$s, namespace: default, uid: %3$s}
        spec:
          containers:
          - name: app
            image: busybox
            volumeDevices: [{name: dev, devicePath: /dev/xvda}]
          volumes:
          - name: dev
            persistentVolumeClaim: {claimName: %1$spv}
        """.formatted(name, handle, uid));
  }
}
