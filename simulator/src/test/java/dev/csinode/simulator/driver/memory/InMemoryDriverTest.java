package dev.csinode.simulator.driver.memory;

import static dev.csinode.simulator.driver.memory.MemoryDriverFixture.await;
import static dev.csinode.simulator.driver.memory.MemoryDriverFixture.failure;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The in-memory driver over its real socket, as a node reaches it; as a normal user, no mount. */
class InMemoryDriverTest {
  static final long MIB = 1L << 20;
  @TempDir
  Path dir;
  final SimulatedMounts mounts = new SimulatedMounts();
  MemoryDriverFixture f;

  MemoryDriverFixture start(InMemoryDriver driver) {
    f = new MemoryDriverFixture(dir, mounts);
    f.start(driver);
    return f;
  }

  static InMemoryDriver.Options options(String latency, Double failureRate, String capacity, Long maxVolumes, Long seed) {
    return new InMemoryDriver.Options(null, latency, failureRate, capacity, maxVolumes, seed);
  }

  @AfterEach
  void close() {
    if (f != null) {
      f.close();
    }
  }

  @Test
  void answersAsTheDriverItIs() {
    start(new InMemoryDriver(options(null, null, null, 7L, null), mounts));
    assertEquals("memory.csinode.dev", await(f.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance())).getName());
    var info = await(f.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance()));
    assertEquals("node-1", info.getNodeId());
    assertEquals(7, info.getMaxVolumesPerNode());
    var caps = await(f.call(NodeGrpcClient.NodeGetCapabilities, NodeGetCapabilitiesRequest.getDefaultInstance())).getCapabilitiesList();
    assertTrue(caps.stream().anyMatch(c -> c.getRpc().getType() == NodeServiceCapability.RPC.Type.STAGE_UNSTAGE_VOLUME), caps.toString());
  }

  @Test
  void aVolumesLifeMountsAndUnmountsInTheSimulatedTable() throws Exception {
    start(new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts));
    String id = await(f.createVolume("pvc-1", 10 * MIB));
    Path staging = f.staging(id);
    Path target = f.target("pod-a");
    Files.createDirectories(staging); // the node makes the staging directory and the target's parent
    Files.createDirectories(target.getParent());

    await(f.stage(id));
    assertTrue(mounts.isMountPoint(staging));
    await(f.stage(id)); // idempotent
    await(f.publish(id, "pod-a"));
    assertTrue(Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS), "the driver makes the target directory");
    assertTrue(mounts.isMountPoint(target));
    assertEquals(staging.toString(), mounts.sourceAt(target), "a bind of the staging mount");
    await(f.publish(id, "pod-a")); // idempotent
    assertEquals(2, mounts.table().under(f.root).size(), "no mount stacked by a repeat: " + mounts.table().all());

    assertEquals(GrpcStatus.FAILED_PRECONDITION, failure(f.unstage(id)).status(), "still published");
    await(f.unpublish(id, "pod-a"));
    assertFalse(mounts.isMountPoint(target));
    assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS), "the driver removes the target it made");
    await(f.unpublish(id, "pod-a")); // idempotent
    await(f.unstage(id));
    assertFalse(mounts.isMountPoint(staging));
    assertTrue(Files.isDirectory(staging), "the staging directory is the node's to remove");
    await(f.unstage(id)); // idempotent
    assertEquals(List.of(), mounts.beneath(f.root));
  }

  @Test
  void answersTheSpecsErrors() {
    start(new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts));
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.stage("no-such-volume")).status());
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.publish("no-such-volume", "pod-a")).status());
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.unpublish("no-such-volume", "pod-a")).status());
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.unstage("no-such-volume")).status());

    String id = await(f.createVolume("pvc-1", 10 * MIB));
    assertEquals(id, await(f.createVolume("pvc-1", 10 * MIB)), "the same request is answered with the same volume");
    assertEquals(GrpcStatus.ALREADY_EXISTS, failure(f.createVolume("pvc-1", 20 * MIB)).status());

    assertEquals(GrpcStatus.FAILED_PRECONDITION, failure(f.publish(id, "pod-a")).status(), "not staged");
    GrpcCallException noStaging = failure(f.call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setTargetPath(f.target("pod-a").toString()).setVolumeCapability(MemoryDriverFixture.mountCapability()).build()));
    assertEquals(GrpcStatus.FAILED_PRECONDITION, noStaging.status());
    assertTrue(noStaging.getMessage().contains("staging_target_path"), noStaging.getMessage());
    await(f.stage(id));
    GrpcCallException elsewhere = failure(f.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(f.root.resolve("elsewhere").toString()).setVolumeCapability(MemoryDriverFixture.mountCapability()).build()));
    assertEquals(GrpcStatus.FAILED_PRECONDITION, elsewhere.status());
    assertEquals(GrpcStatus.ALREADY_EXISTS, failure(f.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(f.staging(id).toString()).setVolumeCapability(MemoryDriverFixture.mountCapability().toBuilder()
            .setMount(VolumeCapability.MountVolume.newBuilder().addMountFlags("noatime"))).build())).status(),
        "staged with other mount flags");
    assertEquals(GrpcStatus.FAILED_PRECONDITION, failure(f.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder()
        .setVolumeId(id).setStagingTargetPath(f.staging(id).toString()).setVolumeCapability(MemoryDriverFixture.blockCapability())
        .build())).status(), "a mount volume cannot serve block access");
    assertEquals(GrpcStatus.INVALID_ARGUMENT, failure(f.call(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder()
        .setVolumeId(id).setTargetPath("relative/mount").build())).status());
  }

  @Test
  void createVolumeBeyondTheCapacityIsResourceExhausted() {
    start(new InMemoryDriver(options(null, null, "1Gi", null, null), mounts));
    String first = await(f.createVolume("pvc-1", 600 * MIB));
    GrpcCallException full = failure(f.createVolume("pvc-2", 600 * MIB));
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, full.status());
    assertTrue(full.getMessage().contains("pvc-2"), full.getMessage());
    await(f.call(ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.newBuilder().setVolumeId(first).build()));
    await(f.createVolume("pvc-2", 600 * MIB));
  }

  @Test
  void aStageBeyondMaxVolumesPerNodeIsResourceExhausted() throws Exception {
    start(new InMemoryDriver(options(null, null, null, 1L, null), mounts));
    String a = await(f.createVolume("pvc-a", MIB));
    String b = await(f.createVolume("pvc-b", MIB));
    await(f.stage(a));
    assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, failure(f.stage(b)).status());
    await(f.unstage(a));
    await(f.stage(b));
  }

  /** Outcomes of 40 unstages of one volume (each OK by itself: the volume is not staged). */
  List<String> outcomes(InMemoryDriver driver) {
    start(driver);
    String id = await(f.createVolume("pvc-1", MIB));
    List<String> out = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      try {
        await(f.unstage(id));
        out.add("OK");
      } catch (GrpcCallException e) {
        out.add(e.status().name());
      }
    }
    assertEquals("memory.csinode.dev", await(f.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance())).getName(),
        "only node operations fail");
    f.close();
    f = null;
    return out;
  }

  @Test
  void theFailureRateFailsTheSameCallsForTheSameSeed() {
    List<String> first = outcomes(new InMemoryDriver(options(null, 0.5, null, null, 7L), new SimulatedMounts()));
    List<String> again = outcomes(new InMemoryDriver(options(null, 0.5, null, null, 7L), new SimulatedMounts()));
    List<String> otherSeed = outcomes(new InMemoryDriver(options(null, 0.5, null, null, 8L), new SimulatedMounts()));
    assertEquals(first, again);
    assertNotEquals(first, otherSeed);
    assertTrue(first.contains("OK") && first.contains("UNAVAILABLE"), first.toString());
    assertEquals(List.of("UNAVAILABLE"), outcomes(new InMemoryDriver(options(null, 1.0, null, null, 7L), new SimulatedMounts()))
        .stream().distinct().toList());
    assertEquals(List.of("OK"), outcomes(new InMemoryDriver(InMemoryDriver.Options.defaults(), new SimulatedMounts()))
        .stream().distinct().toList());
  }

  @Test
  void everyCallTakesAtLeastTheLatency() {
    start(new InMemoryDriver(options("150ms", null, null, null, null), mounts));
    long t0 = System.nanoTime();
    await(f.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance()));
    assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(150).toNanos());
  }

  @Test
  void itsStateOutlivesARestartAndARebootTakesOnlyTheMounts() throws Exception {
    InMemoryDriver driver = new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts);
    start(driver);
    String id = await(f.createVolume("pvc-1", MIB));
    await(f.stage(id));
    await(f.publish(id, "pod-a"));
    f.stop();
    f.start(driver);
    assertEquals(id, await(f.createVolume("pvc-1", MIB)));
    assertEquals(GrpcStatus.FAILED_PRECONDITION, failure(f.unstage(id)).status(), "still published after the restart");

    mounts.clear();
    await(f.stage(id));
    assertTrue(mounts.isMountPoint(f.staging(id)), "staged again after the reboot");
    await(f.publish(id, "pod-a"));
    assertTrue(mounts.isMountPoint(f.target("pod-a")), "published again after the reboot");
    assertEquals(2, mounts.beneath(f.root).size());
  }

  @Test
  void aVolumesFilesFollowItFromPodToPod() throws Exception {
    start(new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts));
    String id = await(f.createVolume("pvc-1", MIB));
    await(f.stage(id));
    await(f.publish(id, "pod-a"));
    Files.writeString(f.target("pod-a").resolve("hello.txt"), "hello");
    await(f.unpublish(id, "pod-a"));
    assertFalse(Files.exists(f.target("pod-a")));
    await(f.publish(id, "pod-b"));
    assertEquals("hello", Files.readString(f.target("pod-b").resolve("hello.txt")));
  }

  @Test
  void inlineVolumesLiveFromTheirPublishToTheirUnpublish() {
    InMemoryDriver driver = new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts);
    start(driver);
    NodePublishVolumeRequest inline = NodePublishVolumeRequest.newBuilder().setVolumeId("csi-inline-1")
        .setTargetPath(f.target("pod-a").toString()).setVolumeCapability(MemoryDriverFixture.mountCapability())
        .putVolumeContext(MemoryNode.EPHEMERAL_KEY, "true").build();
    await(f.call(NodeGrpcClient.NodePublishVolume, inline));
    assertTrue(mounts.isMountPoint(f.target("pod-a")));
    assertEquals(List.of("csi-inline-1"), driver.state().volumes().stream().map(MemoryVolume::id).toList());
    GrpcCallException taken = failure(f.call(NodeGrpcClient.NodePublishVolume, inline.toBuilder().setVolumeId("csi-inline-2").build()));
    assertEquals(GrpcStatus.ALREADY_EXISTS, taken.status(), "the target holds another volume");
    assertEquals(List.of("csi-inline-1"), driver.state().volumes().stream().map(MemoryVolume::id).toList(),
        "an inline volume that could not be published is not kept");
    await(f.unpublish("csi-inline-1", "pod-a"));
    assertFalse(mounts.isMountPoint(f.target("pod-a")));
    assertEquals(List.of(), driver.state().volumes(), "deleted with its last publication");
  }

  @Test
  void aBlockVolumeIsPublishedOntoAFile() {
    start(new InMemoryDriver(InMemoryDriver.Options.defaults(), mounts));
    String id = await(f.call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName("pvc-block")
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(MIB)).addVolumeCapabilities(MemoryDriverFixture.blockCapability())
        .build())).getVolume().getVolumeId();
    Path staging = f.root.resolve("plugins/kubernetes.io/csi/volumeDevices/staging/pv-block");
    Path target = f.root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish/pv-block/pod-a");
    await(f.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
        .setVolumeCapability(MemoryDriverFixture.blockCapability()).build()));
    await(f.call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging.toString())
        .setTargetPath(target.toString()).setVolumeCapability(MemoryDriverFixture.blockCapability()).build()));
    assertTrue(Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS));
    assertTrue(mounts.isMountPoint(target));
    assertEquals(GrpcStatus.FAILED_PRECONDITION, failure(f.publish(id, "pod-b")).status(), "a block volume is not mounted as a directory");
  }
}
