package dev.csinode.agent.operationexecutor;

import static dev.csinode.agent.reconciler.ReconcilerFixture.pod;
import static dev.csinode.agent.reconciler.ReconcilerFixture.pv;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.reconciler.ReconcilerFixture;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The volume operations on their own, against a fake driver and fake mounts: what each outcome of a CSI call leaves
 * in the actual state and the journal.
 */
@Tag("unit")
class VolumeOperationsTest {
  static final VolumeSpec V1 = pv("pv-1");
  static final PodToMount A = pod("pod-a");

  ReconcilerFixture node = ReconcilerFixture.create(ReconcilerFixture.Options.defaults());

  @AfterEach
  void tearDown() {
    node.close();
  }

  /** Runs an operation on the reconciler's context, where operations run. */
  <T> Future<T> onContext(Supplier<Future<T>> operation) {
    Promise<T> done = Promise.promise();
    node.context.runOnContext(v -> operation.get().onComplete(done));
    return done.future();
  }

  OperationException failureOf(Supplier<Future<Void>> operation) {
    return assertThrows(OperationException.class, () -> Await.result(onContext(operation)));
  }

  AttachedVolume published() {
    Await.result(onContext(() -> node.operations.mount(V1, A)));
    AttachedVolume v = node.asw.get(V1.uniqueName());
    assertEquals(MountState.MOUNTED, v.pods.get(A.podUid()).state());
    return v;
  }

  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})
  void aPublishWithAnUnknownOutcomeIsUncertainAndKept(GrpcStatus code) {
    node.csi.failNext("NodePublishVolume", code, true);
    OperationException e = failureOf(() -> node.operations.mount(V1, A));
    assertTrue(e.uncertain(), e.getMessage());
    assertEquals(MountState.UNCERTAIN, node.asw.get(V1.uniqueName()).pods.get(A.podUid()).state());
  }

  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"INVALID_ARGUMENT", "NOT_FOUND", "INTERNAL", "FAILED_PRECONDITION"})
  void aFirstPublishThatFailedWithAFinalCodeIsNotRecorded(GrpcStatus code) {
    node.csi.failNext("NodePublishVolume", code, false);
    OperationException e = failureOf(() -> node.operations.mount(V1, A));
    assertFalse(e.uncertain(), e.getMessage());
    assertNull(node.asw.get(V1.uniqueName()).pods.get(A.podUid()));
    assertEquals(DeviceState.MOUNTED, node.asw.get(V1.uniqueName()).device, "the stage before it stands");
  }

  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})
  void anUnpublishWithAnUnknownOutcomeIsUncertainAndKept(GrpcStatus code) {
    AttachedVolume v = published();
    MountedPod pod = v.pods.get(A.podUid());
    node.csi.failNext("NodeUnpublishVolume", code, false);
    OperationException e = failureOf(() -> node.operations.unmount(v, pod));
    assertTrue(e.uncertain(), e.getMessage());
    assertEquals(MountState.UNCERTAIN, v.pods.get(A.podUid()).state());
    assertTrue(node.mounter.isMountPoint(node.target(V1, A)));
  }

  /**
   * A stage is recorded with the publish that follows it; when that publish fails before its call (a link where the
   * pod's directory belongs), the stage is recorded all the same: a restart does not stage it again.
   */
  @Test
  void aStageFollowedByAPublishFailingBeforeItsCallIsJournaled() throws Exception {
    Path podDir = node.target(V1, A).getParent().getParent().getParent().getParent();
    Files.createSymbolicLink(podDir, Files.createDirectories(podDir.resolveSibling("elsewhere")));
    OperationException e = failureOf(() -> node.operations.mount(V1, A));
    assertFalse(e.uncertain(), e.getMessage());
    assertEquals(DeviceState.MOUNTED, node.asw.get(V1.uniqueName()).device);
    assertEquals(0, node.csi.count("NodePublishVolume"), "the publish never reached the driver");
    ReconcilerFixture before = node;
    node = before.restarted();
    before.close();
    assertEquals(DeviceState.MOUNTED, node.asw.get(V1.uniqueName()).device, "the stage was journaled");
  }

  /** The journal holds every successful stage and publish once the operation completed: a restart trusts them. */
  @Test
  void aSuccessfulStageAndPublishAreJournaledBeforeTheOperationCompletes() {
    published();
    ReconcilerFixture before = node;
    node = before.restarted();
    before.close();
    AttachedVolume v = node.asw.get(V1.uniqueName());
    assertEquals(DeviceState.MOUNTED, v.device);
    assertEquals(MountState.MOUNTED, v.pods.get(A.podUid()).state());
  }
}
