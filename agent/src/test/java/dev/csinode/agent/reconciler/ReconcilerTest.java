package dev.csinode.agent.reconciler;

import static dev.csinode.agent.reconciler.ReconcilerFixture.BACKOFF;
import static dev.csinode.agent.reconciler.ReconcilerFixture.device;
import static dev.csinode.agent.reconciler.ReconcilerFixture.pod;
import static dev.csinode.agent.reconciler.ReconcilerFixture.podState;
import static dev.csinode.agent.reconciler.ReconcilerFixture.published;
import static dev.csinode.agent.reconciler.ReconcilerFixture.pv;
import static dev.csinode.agent.reconciler.ReconcilerFixture.volume;
import static dev.csinode.agent.reconciler.ReconcilerFixture.wants;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.cache.ActualStateOfWorld.AttachedVolume;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.fake.FakeCsiNodeClient.Call;
import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.reconciler.ReconcilerFixture.Options;
import dev.csinode.testing.Await;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The reconciler with its real operations, executor and journal against a fake driver and fake mounts, in the spirit
 * of the kubelet's reconciler_test.go: the order of unmount and mount, unstage after the last unpublish, uncertain
 * stage, publish and unpublish, backoff, max_volumes_per_node and restarts. No root, no socket, no mount.
 */
@Tag("unit")
class ReconcilerTest {
  static final VolumeSpec V1 = pv("pv-1");
  static final VolumeSpec V2 = pv("pv-2");
  static final VolumeSpec V3 = pv("pv-3");
  static final PodToMount A = pod("pod-a");
  static final PodToMount B = pod("pod-b");
  static final PodToMount C = pod("pod-c");
  static final String STAGE = "NodeStageVolume";
  static final String PUBLISH = "NodePublishVolume";
  static final String UNPUBLISH = "NodeUnpublishVolume";
  static final String UNSTAGE = "NodeUnstageVolume";

  ReconcilerFixture node;

  @AfterEach
  void tearDown() {
    if (node != null) {
      node.close();
    }
  }

  int indexOf(String method, String path) {
    List<Call> calls = node.csi.calls();
    for (int i = 0; i < calls.size(); i++) {
      if (calls.get(i).method().equals(method) && calls.get(i).path().equals(path)) {
        return i;
      }
    }
    throw new AssertionError("no " + method + " at " + path + " in " + calls);
  }

  static VolumeSpec volumeNamed(String uniqueName) {
    return List.of(V1, V2, V3).stream().filter(v -> v.uniqueName().equals(uniqueName)).findFirst().orElseThrow();
  }

  @Test
  void stagesAVolumeOnceAndPublishesItForEachPod() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1), wants(B, V1));
    node.settled("both pods published", s -> published(s, V1, A) && published(s, V1, B));
    assertEquals(1, node.csi.count(STAGE));
    assertEquals(2, node.csi.count(PUBLISH));
    assertTrue(node.mounter.isMountPoint(node.staging(V1)));
    assertTrue(node.mounter.isMountPoint(node.target(V1, A)));
    assertTrue(node.mounter.isMountPoint(node.target(V1, B)));
  }

  @Test
  void unmountsWhatIsNoLongerWantedBeforeMountingWhatIsNew() {
    // One operation at a time: the order operations start in a pass is the order of the driver's calls.
    node = ReconcilerFixture.started(new Options(1, 0, true));
    node.want(wants(A, V1));
    node.settled("pod a published", s -> published(s, V1, A));
    node.want(wants(B, V2));
    node.settled("pod b published, pv-1 gone", s -> published(s, V2, B) && volume(s, V1) == null);
    int unpublishOld = indexOf(UNPUBLISH, node.target(V1, A).toString());
    int stageNew = indexOf(STAGE, node.staging(V2).toString());
    int unstageOld = indexOf(UNSTAGE, node.staging(V1).toString());
    assertTrue(unpublishOld < stageNew, "unpublish before the new stage: " + node.csi.calls());
    assertTrue(stageNew < unstageOld, "unmount, mount, then unmount devices (the kubelet's order): " + node.csi.calls());
  }

  @Test
  void unstagesOnlyAfterTheLastPodUnpublished() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1), wants(B, V1));
    node.settled("both pods published", s -> published(s, V1, A) && published(s, V1, B));

    node.want(wants(B, V1));
    var s = node.settled("pod a unpublished", x -> podState(x, V1, A) == null);
    assertEquals(0, node.csi.count(UNSTAGE), "pod b still has it: " + node.csi.calls());
    assertEquals(DeviceState.MOUNTED, device(s, V1));
    assertTrue(node.mounter.isMountPoint(node.staging(V1)));
    assertTrue(published(s, V1, B));

    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertTrue(indexOf(UNSTAGE, node.staging(V1).toString()) > indexOf(UNPUBLISH, node.target(V1, B).toString()));
    assertEquals(List.of(), node.mounter.mounted());
  }

  /** Both pods go at once and one unpublish fails: the volume stays staged until that pod's unpublish succeeds. */
  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"INTERNAL", "DEADLINE_EXCEEDED"})
  void unstageWaitsForEveryPodsUnpublishEvenAFailedOne(GrpcStatus code) {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1), wants(B, V1));
    node.settled("both pods published", s -> published(s, V1, A) && published(s, V1, B));

    node.csi.failNext(UNPUBLISH, code, false);
    node.want();
    var s = node.settled("one pod unpublished, the other's unpublish failed",
        x -> volume(x, V1) != null && volume(x, V1).pods().size() == 1 && !x.failures().isEmpty());
    MountedPod left = volume(s, V1).pods().get(0);
    assertEquals(MountState.UNCERTAIN, left.state());
    assertEquals(0, node.csi.count(UNSTAGE), "unstaged while " + left.podKey() + " still has it: " + node.csi.calls());
    assertTrue(node.mounter.isMountPoint(node.staging(V1)));

    node.advance(BACKOFF);
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(3, node.csi.count(UNPUBLISH));
    assertTrue(indexOf(UNSTAGE, node.staging(V1).toString()) > node.csi.calls().lastIndexOf(
        new Call(UNPUBLISH, V1.volumeHandle(), left.targetPath())));
    assertEquals(List.of(), node.mounter.mounted());
  }

  /** The codes after which the kubelet cannot know what the driver did. */
  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})
  void aStageWithAnUnknownOutcomeIsUnstagedWhenThePodGoes(GrpcStatus code) {
    node = ReconcilerFixture.started();
    node.csi.failNext(STAGE, code, true); // the driver staged it; its answer was lost
    node.want(wants(A, V1));
    var s = node.settled("stage failed", x -> device(x, V1) == DeviceState.UNCERTAIN && !x.failures().isEmpty());
    assertNull(podState(s, V1, A));
    assertEquals(0, node.csi.count(PUBLISH), "not published on an uncertain stage");

    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(1, node.csi.count(UNSTAGE));
    assertEquals(List.of(), node.mounter.mounted());
  }

  @Test
  void aStageWithAnUnknownOutcomeIsStagedAgainByTheNextAttempt() {
    node = ReconcilerFixture.started();
    node.csi.failNext(STAGE, GrpcStatus.DEADLINE_EXCEEDED, false);
    node.want(wants(A, V1));
    node.settled("stage timed out", x -> device(x, V1) == DeviceState.UNCERTAIN && !x.failures().isEmpty());
    node.advance(BACKOFF);
    node.settled("published", x -> published(x, V1, A));
    assertEquals(2, node.csi.count(STAGE));
    assertEquals(1, node.csi.count(PUBLISH));
  }

  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})
  void aPublishWithAnUnknownOutcomeIsUnpublishedWhenThePodGoes(GrpcStatus code) {
    node = ReconcilerFixture.started();
    node.csi.failNext(PUBLISH, code, true); // the driver mounted it; its answer was lost
    node.want(wants(A, V1));
    var s = node.settled("publish failed", x -> !x.failures().isEmpty() && podState(x, V1, A) != null);
    assertEquals(MountState.UNCERTAIN, podState(s, V1, A), "may be mounted: kept for teardown");

    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(1, node.csi.count(UNPUBLISH), "the mount the driver may have made is unpublished: " + node.csi.calls());
    assertTrue(indexOf(UNSTAGE, node.staging(V1).toString()) > indexOf(UNPUBLISH, node.target(V1, A).toString()));
    assertEquals(List.of(), node.mounter.mounted());
  }

  @Test
  void aPublishWithAnUnknownOutcomeIsPublishedAgainByTheNextAttempt() {
    node = ReconcilerFixture.started();
    node.csi.failNext(PUBLISH, GrpcStatus.DEADLINE_EXCEEDED, false);
    node.want(wants(A, V1));
    node.settled("publish timed out", x -> podState(x, V1, A) == MountState.UNCERTAIN && !x.failures().isEmpty());
    node.advance(BACKOFF);
    node.settled("published", x -> published(x, V1, A));
    assertEquals(1, node.csi.count(STAGE));
    assertEquals(2, node.csi.count(PUBLISH));
  }

  @Test
  void aFirstPublishThatFailedWithAFinalCodeLeavesNothingToUnpublish() {
    node = ReconcilerFixture.started();
    node.csi.failNext(PUBLISH, GrpcStatus.INVALID_ARGUMENT, false);
    node.want(wants(A, V1));
    var s = node.settled("publish failed", x -> !x.failures().isEmpty());
    assertNull(podState(s, V1, A));
    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(0, node.csi.count(UNPUBLISH));
    assertEquals(1, node.csi.count(UNSTAGE));
  }

  @ParameterizedTest
  @EnumSource(value = GrpcStatus.class, names = {"CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "ABORTED"})
  void anUnpublishWithAnUnknownOutcomeStaysUncertainAndIsRetriedBeforeTheUnstage(GrpcStatus code) {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1));
    node.settled("published", x -> published(x, V1, A));
    node.csi.failNext(UNPUBLISH, code, false);
    node.want();
    var s = node.settled("unpublish failed", x -> !x.failures().isEmpty());
    assertEquals(MountState.UNCERTAIN, podState(s, V1, A));
    assertEquals(0, node.csi.count(UNSTAGE));
    assertTrue(node.mounter.isMountPoint(node.target(V1, A)));

    node.advance(BACKOFF);
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(2, node.csi.count(UNPUBLISH));
    assertEquals(1, node.csi.count(UNSTAGE));
    assertEquals(List.of(), node.mounter.mounted());
  }

  @Test
  void aFailedOperationWaitsItsBackoffWhichDoublesAndASuccessStartsItAfresh() {
    node = ReconcilerFixture.started();
    OperationKey key = OperationKey.volume(V1.uniqueName());
    node.csi.failNext(STAGE, GrpcStatus.INTERNAL, false);
    node.csi.failNext(STAGE, GrpcStatus.INTERNAL, false);
    node.want(wants(A, V1));
    var s = node.settled("first failure", x -> x.failures().containsKey(key));
    assertEquals(1, s.failures().get(key).failures());
    assertEquals(BACKOFF.toMillis(), s.failures().get(key).notBeforeMillis() - node.clock.get());

    node.advance(BACKOFF.minusMillis(1));
    node.settled("still waiting", x -> true);
    assertEquals(1, node.csi.count(STAGE), "no retry before the backoff ends");
    node.advance(Duration.ofMillis(1));
    s = node.settled("second failure", x -> x.failures().containsKey(key) && x.failures().get(key).failures() == 2);
    assertEquals(2, node.csi.count(STAGE));
    assertEquals(2 * BACKOFF.toMillis(), s.failures().get(key).notBeforeMillis() - node.clock.get(), "doubled");

    node.advance(BACKOFF);
    node.settled("still waiting", x -> true);
    assertEquals(2, node.csi.count(STAGE), "no retry before the doubled backoff ends");
    node.advance(BACKOFF);
    s = node.settled("published", x -> published(x, V1, A));
    assertEquals(3, node.csi.count(STAGE));
    assertFalse(s.failures().containsKey(key), "a success forgets the failures");

    // The next failure of the same operation on the key waits the first backoff again, not a fourfold one.
    node.csi.failNext(PUBLISH, GrpcStatus.INTERNAL, false);
    node.want(wants(A, V1), wants(B, V1));
    s = node.settled("publish for pod b failed", x -> x.failures().containsKey(key));
    assertEquals(1, s.failures().get(key).failures());
    assertEquals(BACKOFF.toMillis(), s.failures().get(key).notBeforeMillis() - node.clock.get());
  }

  @Test
  void aVolumeBeyondMaxVolumesPerNodeIsNotAttemptedUntilAnotherGoes() {
    node = ReconcilerFixture.started(new Options(8, 2, true));
    node.want(wants(A, V1), wants(B, V2), wants(C, V3));
    var s = node.settled("two published, one held back", x -> x.limited().size() == 1
        && x.actual().stream().filter(v -> !v.pods().isEmpty()).count() == 2);
    String held = s.limited().keySet().iterator().next();
    assertTrue(s.limited().get(held).contains("allows at most 2 volumes"), s.limited().toString());
    assertEquals(2, node.csi.count(STAGE));
    assertNull(s.actualByName().get(held), "not attempted");

    // The pod of one published volume goes: once that volume is unstaged, the held one is set up.
    VolumeSpec gone = List.of(V1, V2, V3).stream().filter(v -> !v.uniqueName().equals(held)).findFirst().orElseThrow();
    List<ReconcilerFixture.Wants> rest = List.of(wants(A, V1), wants(B, V2), wants(C, V3)).stream()
        .filter(w -> !w.volumes().contains(gone)).toList();
    node.want(rest.toArray(ReconcilerFixture.Wants[]::new));
    s = node.settled("the held volume published", x -> x.limited().isEmpty() && x.actualByName().containsKey(held)
        && !x.actualByName().get(held).pods().isEmpty() && volume(x, gone) == null);
    assertTrue(indexOf(UNSTAGE, node.staging(gone).toString()) < indexOf(STAGE, node.staging(volumeNamed(held)).toString()),
        "set up only once another volume left the node: " + node.csi.calls());
    assertEquals(3, node.csi.count(STAGE));
  }

  @Test
  void reconstructedVolumesAreTornDownOnlyOnceThePodSourcesDelivered() {
    node = ReconcilerFixture.create(Options.defaults());
    // What a restart rebuilds: a staged volume and a publish, both uncertain, and mounted on the host.
    AttachedVolume v = node.asw.getOrAdd(V1);
    v.device = DeviceState.UNCERTAIN;
    v.stagingPath = node.staging(V1).toString();
    v.pods.put(A.podUid(), new MountedPod(A.podUid(), A.podUid(), MountState.UNCERTAIN, node.target(V1, A).toString()));
    node.mounter.mount(node.staging(V1));
    node.mounter.mount(node.target(V1, A));
    node.start();
    Await.result(node.reconciler.reconcileNow());
    node.settled("a pass without the desired state", x -> volume(x, V1) != null);
    assertEquals(List.of(), node.csi.calls(), "nothing torn down before the pod sources delivered");

    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    assertEquals(1, node.csi.count(UNPUBLISH));
    assertEquals(1, node.csi.count(UNSTAGE));
    assertEquals(List.of(), node.mounter.mounted());
  }

  @Test
  void aReconstructedUncertainPublishStillWantedIsPublishedAgainWithoutStaging() {
    node = ReconcilerFixture.create(Options.defaults());
    AttachedVolume v = node.asw.getOrAdd(V1);
    v.device = DeviceState.MOUNTED;
    v.stagingPath = node.staging(V1).toString();
    v.pods.put(A.podUid(), new MountedPod(A.podUid(), A.podUid(), MountState.UNCERTAIN, node.target(V1, A).toString()));
    node.mounter.mount(node.staging(V1));
    node.start();
    node.want(wants(A, V1));
    var s = node.settled("published", x -> published(x, V1, A));
    assertEquals(0, node.csi.count(STAGE));
    assertEquals(1, node.csi.count(PUBLISH));
    assertEquals(A.podKey(), volume(s, V1).pods().get(0).podKey(), "the pod's name replaces the uid the disk gave");
  }

  /** Every successful stage and publish is journaled: a restart on a settled node calls the driver for nothing. */
  @Test
  void aRestartOfASettledNodeStagesAndPublishesNothingAgain() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1), wants(B, V2));
    node.settled("both published", x -> published(x, V1, A) && published(x, V2, B));
    ReconcilerFixture first = node;
    node = first.restarted().start();
    first.close();
    node.want(wants(A, V1), wants(B, V2));
    node.settled("desired state taken and settled", x -> x.desired().volumes().size() == 2
        && published(x, V1, A) && published(x, V2, B));
    assertEquals(2, node.csi.count(STAGE), "no stage again: " + node.csi.calls());
    assertEquals(2, node.csi.count(PUBLISH), "no publish again: " + node.csi.calls());
  }

  @Test
  void aGonePodsDirectoryIsRemovedOnceItsVolumesAreTornDown() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1));
    node.settled("published", x -> published(x, V1, A));
    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    var report = Await.result(node.reconciler.housekeep(false)); // after the removal: housekeeping runs one thing at a time
    assertEquals(List.of(), report);
    assertFalse(node.layout.podDir(A.podUid()).toFile().exists());
  }

  /**
   * A pod the sources want is never an orphan, even while none of its volumes is mounted (its stage failed and
   * waits out its backoff): housekeeping with removal on leaves its directory alone.
   */
  @Test
  void aWantedPodsDirectoryIsKeptWhileNothingOfItIsMounted() throws Exception {
    node = ReconcilerFixture.started();
    node.csi.failNext(STAGE, GrpcStatus.INVALID_ARGUMENT, false);
    node.want(wants(A, V1));
    node.settled("stage failed, in backoff", x -> !x.failures().isEmpty() && volume(x, V1) != null && volume(x, V1).pods().isEmpty());
    Files.createDirectories(node.layout.podDir(A.podUid()).resolve("volumes"));
    var report = Await.result(node.reconciler.housekeep(true));
    assertTrue(report.stream().noneMatch(o -> o.podUid().equals(A.podUid())), report.toString());
    assertTrue(Files.isDirectory(node.layout.podDir(A.podUid()).resolve("volumes")), "the wanted pod's directory stays");
  }

  /** Something mounted in a gone pod's directory meanwhile (not by the agent): the directory stays, nothing below is removed. */
  @Test
  void aGonePodsDirectoryWithAMountBelowItIsKept() throws Exception {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1));
    node.settled("published", x -> published(x, V1, A));
    Path foreign = node.layout.publishPath(A.podUid(), "not-the-agents");
    Files.createDirectories(foreign);
    node.mounter.mount(foreign);
    node.want();
    node.settled("pv-1 torn down", x -> volume(x, V1) == null);
    var report = Await.result(node.reconciler.housekeep(false));
    assertTrue(Files.isDirectory(foreign), "a mount point is never removed");
    assertEquals(1, report.size(), report.toString());
    assertEquals(HousekeepingAction.KEEP, report.get(0).action());
    assertTrue(report.get(0).reason().contains("still mounted"), report.get(0).reason());
  }

  @Test
  void aPublishMountThatVanishedIsPublishedAgainAfterHousekeeping() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1));
    node.settled("published", x -> published(x, V1, A));
    node.mounter.unmount(node.target(V1, A));
    Await.result(node.reconciler.housekeep(false));
    node.settled("published again", x -> published(x, V1, A) && node.csi.count(PUBLISH) == 2);
    assertTrue(node.mounter.isMountPoint(node.target(V1, A)));
  }

  /** The agent's own staging and publish mounts are never reported as unmanaged, however many passes see them. */
  @Test
  void theAgentsOwnMountsAreNeverReportedAsUnmanaged() {
    node = ReconcilerFixture.started();
    node.want(wants(A, V1), wants(B, V1));
    node.settled("published for both", x -> published(x, V1, A) && published(x, V1, B));
    Await.result(node.reconciler.housekeep(false));
    Await.result(node.reconciler.housekeep(false));
    assertEquals(List.of(), node.reconciler.snapshot().unmanagedMounts());
    assertTrue(node.mounter.isMountPoint(node.target(V1, A)) && node.mounter.isMountPoint(node.target(V1, B)));
  }

  @Test
  void aMountTheAgentDidNotMakeIsReportedOnceTwoPassesFoundIt() {
    node = ReconcilerFixture.started();
    node.want();
    Path unknown = node.layout.publishPath(C.podUid(), "someone-elses");
    node.mounter.mount(unknown);
    Await.result(node.reconciler.housekeep(false));
    assertEquals(List.of(), node.reconciler.snapshot().unmanagedMounts(), "one pass is not enough: it may be a mount in flight");
    Await.result(node.reconciler.housekeep(false));
    assertEquals(List.of(unknown.toString()), node.reconciler.snapshot().unmanagedMounts());
    assertNotNull(node.mounter.table().at(unknown).orElse(null), "left alone");
  }
}
