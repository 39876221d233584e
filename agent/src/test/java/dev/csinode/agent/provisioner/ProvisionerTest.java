package dev.csinode.agent.provisioner;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.Volume;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Creation and deletion of provisioned volumes through the operation executor, with a fake CSI controller and a
 * clock the test moves: the executor's backoff, its bound on parallel calls, its failure records in status and its
 * observer for metrics. No socket, no mount.
 */
@Tag("unit")
class ProvisionerTest {
  static final String DRIVER = ClaimBinderTest.DRIVER;
  static final Duration INITIAL = Duration.ofSeconds(1);

  /** A controller that answers what the test says: at once, with an error, or when the test completes the call. */
  static final class FakeControllerClient implements ControllerClient {
    final List<CreateVolumeRequest> creates = new CopyOnWriteArrayList<>();
    final List<DeleteVolumeRequest> deletes = new CopyOnWriteArrayList<>();
    final List<Promise<Volume>> held = new CopyOnWriteArrayList<>();
    volatile RuntimeException failCreates;
    volatile RuntimeException failDeletes;
    volatile boolean holdCreates;

    @Override
    public Future<Volume> createVolume(RegisteredDriver driver, CreateVolumeRequest request) {
      creates.add(request);
      if (failCreates != null) {
        return Future.failedFuture(failCreates);
      }
      if (holdCreates) {
        Promise<Volume> p = Promise.promise();
        held.add(p);
        return p.future();
      }
      return Future.succeededFuture(volume(request));
    }

    static Volume volume(CreateVolumeRequest request) {
      return Volume.newBuilder().setVolumeId("vol-" + request.getName()).setCapacityBytes(request.getCapacityRange().getRequiredBytes()).build();
    }

    @Override
    public Future<Void> deleteVolume(RegisteredDriver driver, DeleteVolumeRequest request) {
      deletes.add(request);
      return failDeletes != null ? Future.failedFuture(failDeletes) : Future.succeededFuture();
    }
  }

  record Observed(String operation, String plugin, boolean success) {}

  Vertx vertx;
  Context context;
  Path dir;
  final AtomicLong now = new AtomicLong(1_000_000);
  final FakeControllerClient controller = new FakeControllerClient();
  final List<Observed> observed = new CopyOnWriteArrayList<>();
  final AtomicInteger wakeUps = new AtomicInteger();
  final DriverRegistry drivers = new DriverRegistry();
  OperationExecutor executor;
  Provisioner provisioner;

  @BeforeEach
  void start() throws IOException {
    dir = Files.createTempDirectory("provisioner-test-");
    vertx = Vertx.vertx();
    context = vertx.getOrCreateContext();
    drivers.put(new RegisteredDriver(DRIVER, "unix://" + dir.resolve("csi.sock"), dir.resolve("reg.sock"), "n", Map.of(), 0,
        List.of(), "1.0.0", System.currentTimeMillis(), true));
    open(2);
  }

  void open(int maxParallel) {
    executor = new OperationExecutor(maxParallel, INITIAL, INITIAL.multipliedBy(8), now::get);
    executor.observe((operation, plugin, success, seconds) -> observed.add(new Observed(operation, plugin, success)));
    provisioner = new Provisioner(context, dir.resolve("state"), drivers, controller, executor, now::get, wakeUps::incrementAndGet);
  }

  @AfterEach
  void stop() throws IOException {
    onContext(() -> {
      provisioner.close();
      return null;
    });
    vertx.close().await();
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  <T> T onContext(Supplier<T> work) {
    CompletableFuture<T> done = new CompletableFuture<>();
    context.runOnContext(v -> {
      try {
        done.complete(work.get());
      } catch (Throwable t) {
        done.completeExceptionally(t);
      }
    });
    return done.orTimeout(10, TimeUnit.SECONDS).join();
  }

  ClaimBinding bind(ClusterObjects sources) {
    return onContext(() -> provisioner.bind(sources));
  }

  /** Binds until the condition holds: creations complete asynchronously (the record is written to disk). */
  ClaimBinding bindUntil(ClusterObjects sources, java.util.function.Predicate<ClaimBinding> condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      ClaimBinding b = bind(sources);
      if (condition.test(b)) {
        return b;
      }
      assertTrue(System.nanoTime() < deadline, "not reached: " + b + " " + provisioner.status());
      Thread.sleep(2);
    }
  }

  static boolean bound(ClaimBinding b, String claim) {
    var c = b.objects().claims().get(claim);
    return c != null && c.getSpec().getVolumeName() != null;
  }

  static ClusterObjects claims(String... names) {
    List<String> docs = new ArrayList<>(List.of(ClaimBinderTest.CLASS.replace("reclaimPolicy: Retain", "reclaimPolicy: Delete")));
    for (String n : names) {
      docs.add(ClaimBinderTest.claim(n, ""));
    }
    return ClaimBinderTest.objects(docs.toArray(String[]::new));
  }

  @Test
  void aCreatedVolumeIsRecordedDurablyAndTheClaimBound() throws Exception {
    ClusterObjects sources = claims("a");
    ClaimBinding b = bindUntil(sources, x -> bound(x, "default/a"));
    assertEquals(1, controller.creates.size());
    String pv = b.objects().claims().get("default/a").getSpec().getVolumeName();
    assertEquals("vol-" + pv, b.objects().volumes().get(pv).getSpec().getCsi().getVolumeHandle());
    assertEquals(List.of(new Observed("volume_provision", "kubernetes.io/csi:" + DRIVER, true)), observed);
    assertTrue(wakeUps.get() > 0, "the pipeline was asked to bind again");
    // A new provisioner on the same state directory (a restart) binds the claim without creating anything.
    onContext(() -> {
      provisioner.close();
      return null;
    });
    open(2);
    assertTrue(bound(bind(sources), "default/a"));
    assertEquals(1, controller.creates.size());
  }

  @Test
  void aFailedCreationWaitsForTheExecutorsBackoffAndShowsLikeAMountFailure() throws Exception {
    controller.failCreates = new IllegalStateException("no capacity left");
    ClusterObjects sources = claims("a");
    bindUntil(sources, x -> x.retrying().containsKey("default/a"));
    assertEquals(1, controller.creates.size());
    String retrying = bind(sources).retrying().get("default/a");
    assertTrue(retrying.startsWith("CreateVolume with driver d.example.com failed (1 in a row, next try at ") && retrying.endsWith("no capacity left"),
        retrying);
    var claim = provisioner.status().claims().get(0);
    assertEquals("failed", claim.state());
    assertEquals(DRIVER, claim.driver());
    assertEquals(1, claim.failures());
    assertEquals(java.time.Instant.ofEpochMilli(now.get() + INITIAL.toMillis()).toString(), claim.nextRetryAt());
    assertEquals(Map.of(), bind(sources).errors(), "a failure being retried is no error of the claim");
    assertEquals(List.of(new Observed("volume_provision", "kubernetes.io/csi:" + DRIVER, false)), observed);

    // However often the sources change, nothing is asked before the backoff is over.
    for (int i = 0; i < 5; i++) {
      bind(sources);
    }
    now.addAndGet(INITIAL.toMillis() - 1);
    bind(sources);
    assertEquals(1, controller.creates.size());
    now.addAndGet(1);
    bindUntil(sources, x -> x.retrying().getOrDefault("default/a", "").contains("(2 in a row"));
    assertEquals(2, controller.creates.size());
    // The second wait is twice the first.
    now.addAndGet(INITIAL.toMillis());
    bind(sources);
    assertEquals(2, controller.creates.size());

    // The driver is back (registered, healthy): tried at once, and it works now.
    controller.failCreates = null;
    onContext(() -> {
      provisioner.driverAvailable(DRIVER);
      return null;
    });
    ClaimBinding b = bindUntil(sources, x -> bound(x, "default/a"));
    assertEquals(3, controller.creates.size());
    assertEquals(Map.of(), b.retrying());
    assertEquals(List.of(), provisioner.status().claims());
  }

  @Test
  void creationsBeyondTheExecutorsBoundStartAsSoonAsOneFinishes() throws Exception {
    controller.holdCreates = true;
    ClusterObjects sources = claims("a", "b", "c");
    bind(sources);
    assertEquals(2, controller.creates.size(), "two at a time");
    assertEquals(2, provisioner.status().claims().stream().filter(c -> c.state().equals("provisioning")).count(), "" + provisioner.status());
    // One finishes: the waiting claim starts then, without waiting for another binding.
    controller.holdCreates = false;
    Promise<Volume> first = controller.held.get(0);
    CreateVolumeRequest firstRequest = controller.creates.get(0);
    context.runOnContext(v -> first.complete(FakeControllerClient.volume(firstRequest)));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (controller.creates.size() < 3) {
      assertTrue(System.nanoTime() < deadline, "the third creation did not start");
      Thread.sleep(2);
    }
    Promise<Volume> second = controller.held.get(1);
    CreateVolumeRequest secondRequest = controller.creates.get(1);
    context.runOnContext(v -> second.complete(FakeControllerClient.volume(secondRequest)));
    bindUntil(sources, x -> bound(x, "default/a") && bound(x, "default/b") && bound(x, "default/c"));
    assertEquals(3, controller.creates.size(), "" + controller.creates.stream().map(CreateVolumeRequest::getName).toList());
  }

  @Test
  void aReleasedVolumeIsDeletedOnceUnusedAndAFailedDeletionBacksOff() throws Exception {
    ClusterObjects withClaim = claims("a");
    String pv = bindUntil(withClaim, x -> bound(x, "default/a")).objects().claims().get("default/a").getSpec().getVolumeName();
    java.util.concurrent.atomic.AtomicBoolean used = new java.util.concurrent.atomic.AtomicBoolean(true);
    onContext(() -> {
      provisioner.inUse(v -> used.get());
      return null;
    });
    ClusterObjects without = claims();
    bindUntil(without, x -> provisioner.status().volumes().get(0).reason().contains("deleted once no pod uses it"));
    assertEquals(List.of(), controller.deletes);

    controller.failDeletes = new IllegalStateException("volume busy");
    used.set(false);
    bindUntil(without, x -> provisioner.status().volumes().get(0).lastError() != null);
    var v = provisioner.status().volumes().get(0);
    assertEquals("volume busy", v.lastError());
    assertEquals(java.time.Instant.ofEpochMilli(now.get() + INITIAL.toMillis()).toString(), v.nextRetryAt());
    assertEquals(1, controller.deletes.size());
    bind(without);
    assertEquals(1, controller.deletes.size(), "not asked again during its backoff");

    controller.failDeletes = null;
    now.addAndGet(INITIAL.toMillis());
    bindUntil(without, x -> provisioner.status().volumes().isEmpty());
    assertEquals(2, controller.deletes.size());
    assertEquals("vol-" + pv, controller.deletes.get(1).getVolumeId());
    assertTrue(observed.contains(new Observed("volume_delete", "kubernetes.io/csi:" + DRIVER, false)), "" + observed);
    assertTrue(observed.contains(new Observed("volume_delete", "kubernetes.io/csi:" + DRIVER, true)), "" + observed);
  }

  @Test
  void anExplicitDeletionIsRefusedWhileBoundAndOverridesAFailedDeletionsBackoff() throws Exception {
    ClusterObjects withClaim = claims("a");
    String pv = bindUntil(withClaim, x -> bound(x, "default/a")).objects().claims().get("default/a").getSpec().getVolumeName();
    var refused = assertThrows(java.util.concurrent.CompletionException.class, () -> delete(pv));
    assertEquals(Provisioner.DeleteRefused.Reason.CONFLICT, ((Provisioner.DeleteRefused) refused.getCause()).reason());

    // The claim goes; deletion fails and waits for its backoff; an explicit deletion is asked for now.
    controller.failDeletes = new IllegalStateException("volume busy");
    bindUntil(claims(), x -> provisioner.status().volumes().get(0).lastError() != null);
    controller.failDeletes = null;
    assertEquals("deleted PersistentVolume " + pv + " (volume vol-" + pv + " of driver " + DRIVER + ")", delete(pv));
    assertEquals(2, controller.deletes.size());
    var notFound = assertThrows(java.util.concurrent.CompletionException.class, () -> delete(pv));
    assertEquals(Provisioner.DeleteRefused.Reason.NOT_FOUND, ((Provisioner.DeleteRefused) notFound.getCause()).reason());
  }

  String delete(String pv) {
    CompletableFuture<String> done = new CompletableFuture<>();
    context.runOnContext(v -> provisioner.delete(pv).onComplete(ar -> {
      if (ar.succeeded()) {
        done.complete(ar.result());
      } else {
        done.completeExceptionally(ar.cause());
      }
    }));
    return done.orTimeout(10, TimeUnit.SECONDS).join();
  }
}
