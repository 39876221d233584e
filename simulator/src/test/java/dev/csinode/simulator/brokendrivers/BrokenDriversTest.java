package dev.csinode.simulator.brokendrivers;

import static dev.csinode.simulator.driver.memory.MemoryDriverFixture.await;
import static dev.csinode.simulator.driver.memory.MemoryDriverFixture.failure;
import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import dev.csinode.simulator.driver.memory.MemoryDriverFixture;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each deliberately broken driver, over its real socket, misbehaves as its name says (and works otherwise). */
class BrokenDriversTest {
  static final long MIB = 1L << 20;
  @TempDir
  Path dir;
  final SimulatedMounts mounts = new SimulatedMounts();
  final InMemoryDriver.Options options = InMemoryDriver.Options.defaults();
  MemoryDriverFixture f;

  @AfterEach
  void close() {
    f.close();
  }

  String stagedVolume(BrokenDriver driver) {
    f = new MemoryDriverFixture(dir, mounts);
    f.start(driver);
    String id = await(f.createVolume("pvc-1", MIB));
    await(f.stage(id));
    return id;
  }

  @Test
  void nonIdempotentStageRefusesTheSecondStage() {
    String id = stagedVolume(new NonIdempotentStageDriver(options, mounts));
    assertEquals(GrpcStatus.ALREADY_EXISTS, failure(f.stage(id)).status());
    await(f.publish(id, "pod-a"));
    assertTrue(mounts.isMountPoint(f.target("pod-a")), "publishing still works");
  }

  @Test
  void publishWithoutMountAnswersOkAndMountsNothing() {
    String id = stagedVolume(new PublishWithoutMountDriver(options, mounts));
    await(f.publish(id, "pod-a"));
    assertTrue(Files.isDirectory(f.target("pod-a")));
    assertFalse(mounts.isMountPoint(f.target("pod-a")));
  }

  @Test
  void hangingNeverAnswersTheStageButStages() {
    HangingDriver driver = new HangingDriver(options, mounts);
    f = new MemoryDriverFixture(dir, mounts);
    f.start(driver);
    String id = await(f.createVolume("pvc-1", MIB));
    long t0 = System.nanoTime();
    var late = failure(f.call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(f.staging(id).toString()).setVolumeCapability(MemoryDriverFixture.mountCapability()).build(),
        Duration.ofMillis(300)));
    assertEquals(GrpcStatus.DEADLINE_EXCEEDED, late.status());
    assertTrue(System.nanoTime() - t0 >= Duration.ofMillis(300).toNanos());
    assertTrue(mounts.isMountPoint(f.staging(id)), "the work was done, the answer never came");
    await(f.unstage(id));
    assertFalse(mounts.isMountPoint(f.staging(id)), "unstaging works");
  }

  @Test
  void notFoundAnswersNotFoundForVolumesItHasAndUndoesNothing() {
    NotFoundDriver driver = new NotFoundDriver(options, mounts);
    String id = stagedVolume(driver);
    await(f.publish(id, "pod-a"));
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.unpublish(id, "pod-a")).status());
    assertEquals(GrpcStatus.NOT_FOUND, failure(f.unstage(id)).status());
    assertTrue(mounts.isMountPoint(f.target("pod-a")));
    assertTrue(mounts.isMountPoint(f.staging(id)));
    assertEquals(1, driver.inMemory().state().volumes().size(), "it has the volume");
  }
}
