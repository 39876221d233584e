package dev.csinode.agent.status;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.OperationKey;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.agent.populator.DesiredStateOfWorldPopulator;
import dev.csinode.agent.reconciler.Reconciler;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Status and {@code pod wait} read from snapshots the test makes: no reconciler, no driver, no mount. */
@Tag("unit")
class PodWaitersTest {
  static final String UID = "aaaaaaaa-0000-4000-8000-000000000001";
  static final String OBJECTS = """
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: d.example.com}
      spec: {attachRequired: false, volumeLifecycleModes: [Ephemeral]}
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: app, namespace: default, uid: %s}
      spec:
        containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
        volumes: [{name: data, csi: {driver: d.example.com}}]
      ---
      apiVersion: v1
      kind: Pod
      metadata: {name: broken, namespace: default, uid: bbbbbbbb-0000-4000-8000-000000000001}
      spec:
        containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
        volumes: [{name: data, persistentVolumeClaim: {claimName: missing}}]
      """.formatted(UID);

  Vertx vertx;
  Context context;
  DesiredStateOfWorld desired;
  String unique;
  final AtomicReference<Reconciler.Snapshot> snapshot = new AtomicReference<>();
  VolumeManagerView view;
  PodWaiters waiters;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    context = vertx.getOrCreateContext();
    ManifestParser.Result parsed = ManifestParser.parse(Path.of("test"), OBJECTS);
    desired = DesiredStateOfWorldPopulator.populate(ClusterObjects.of(parsed.objects(), parsed.errors()));
    unique = desired.pods().get("default/app").uniqueNames().get(0);
    snapshot.set(snapshot(Map.of(), Map.of(), Set.of()));
    view = new VolumeManagerView(snapshot::get, () -> ProvisioningStatus.EMPTY);
    waiters = new PodWaiters(context, view);
  }

  @AfterEach
  void stop() {
    vertx.close().await();
  }

  Reconciler.Snapshot snapshot(Map<String, ActualStateOfWorld.VolumeView> actual, Map<OperationKey, OperationExecutor.Failure> failures,
                               Set<OperationKey> running) {
    return new Reconciler.Snapshot(desired, actual, failures, running, Map.of(), List.of(), List.of());
  }

  Map<String, ActualStateOfWorld.VolumeView> published() {
    ActualStateOfWorld asw = new ActualStateOfWorld();
    var v = asw.getOrAdd(desired.volume(unique).orElseThrow().spec());
    v.pods.put(UID, new MountedPod(UID, "default/app", MountState.MOUNTED, "/pods/" + UID + "/data/mount"));
    return asw.snapshot();
  }

  /** A new snapshot, announced on the context as the reconciler does. */
  void publish(Reconciler.Snapshot next) {
    snapshot.set(next);
    context.runOnContext(v -> view.snapshotChanged());
  }

  static <T> T await(Future<T> f) {
    CompletableFuture<T> done = new CompletableFuture<>();
    f.onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(ar.result());
      } else {
        done.completeExceptionally(ar.cause());
      }
    });
    return done.orTimeout(10, TimeUnit.SECONDS).join();
  }

  @Test
  void aWaiterCompletesWhenASnapshotShowsThePodsVolumesPublished() {
    Future<PodStatus> ready = waiters.whenReady("default/app", Duration.ofSeconds(30));
    assertEquals("pending", view.pod("default/app").orElseThrow().volumes().get(0).state());
    // A failed publish is in status with its retry time, and the waiter keeps waiting.
    var failure = new OperationExecutor.Failure("volume_mount", "NodePublishVolume: boom", 2, 5_000, "");
    publish(snapshot(Map.of(), Map.of(OperationKey.volume(unique), failure), Set.of()));
    var failed = view.pod("default/app").orElseThrow().volumes().get(0);
    assertEquals("failed", failed.state());
    assertEquals("NodePublishVolume: boom", failed.lastError());
    assertEquals("1970-01-01T00:00:05Z", failed.nextRetryAt());
    publish(snapshot(Map.of(), Map.of(), Set.of(OperationKey.volume(unique))));
    assertEquals("in progress", view.pod("default/app").orElseThrow().volumes().get(0).state());
    assertFalse(ready.isComplete());

    publish(snapshot(published(), Map.of(), Set.of()));
    PodStatus status = await(ready);
    assertTrue(status.ready());
    assertEquals("/pods/" + UID + "/data/mount", status.volumes().get(0).hostPath());
  }

  @Test
  void aPodWithErrorsFailsAtOnceAndAPodNeverReadyTimesOutSayingWhy() {
    var broken = assertThrows(java.util.concurrent.CompletionException.class,
        () -> await(waiters.whenReady("default/broken", Duration.ofSeconds(30))));
    PodWaiters.WaitException e = (PodWaiters.WaitException) broken.getCause();
    assertFalse(e.timedOut());
    assertTrue(e.getMessage().startsWith("pod default/broken cannot get ready: ") && e.getMessage().contains("missing"), e.getMessage());

    var late = assertThrows(java.util.concurrent.CompletionException.class,
        () -> await(waiters.whenReady("default/app", Duration.ofMillis(20))));
    PodWaiters.WaitException t = (PodWaiters.WaitException) late.getCause();
    assertTrue(t.timedOut());
    assertTrue(t.getMessage().contains("not ready after 20 ms") && t.getMessage().contains("data is pending"), t.getMessage());
  }

  @Test
  void theViewSaysWhichVolumesAreInUse() {
    assertTrue(view.inUse(unique), "wanted by a pod");
    assertFalse(view.inUse("kubernetes.io/csi/other^h"));
    assertEquals(0, view.uncertainVolumes());
  }
}
