package dev.csinode.agent.reconciler;

import static org.junit.jupiter.api.Assertions.fail;

import dev.csinode.agent.TestDirectories;
import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.ActualStateOfWorld.DeviceState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountState;
import dev.csinode.agent.cache.ActualStateOfWorld.MountedPod;
import dev.csinode.agent.cache.ActualStateOfWorld.VolumeView;
import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.DesiredVolume;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.fake.FakeCsiNodeClient;
import dev.csinode.agent.fake.FakeMounter;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.operationexecutor.VolumeOperations;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.plugins.csi.DriverRegistry;
import dev.csinode.plugins.csi.RegisteredDriver;
import dev.csinode.testing.Await;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * A reconciler with its real volume operations, operation executor and journal, over a temporary root, with a
 * {@link FakeCsiNodeClient} for the driver and a {@link FakeMounter} for the host: no root, no socket, no mount.
 * The executor's clock stands still until {@link #advance}: a failed operation waits its backoff until the test
 * moves the clock (the backoffs are minutes, so no timer of the reconciler's fires during a test). Removes its
 * temporary directory when closed.
 */
public final class ReconcilerFixture implements AutoCloseable {
  public static final String DRIVER = "fake.csi.dev";
  public static final Duration BACKOFF = Duration.ofMinutes(1);
  public static final String BOOT = "boot-1";
  private static final Duration WAIT = Duration.ofSeconds(20);

  /** How the node is set up. */
  public record Options(int maxParallel, long maxVolumesPerNode, boolean removeOrphans) {
    public static Options defaults() {
      return new Options(8, 0, true);
    }
  }

  private record Waiter(String what, Predicate<Reconciler.Snapshot> condition, CompletableFuture<Reconciler.Snapshot> done) {}

  public final Path tmp;
  public final KubeletLayout layout;
  public final FakeMounter mounter;
  public final FakeCsiNodeClient csi;
  public final AtomicLong clock;
  public final ActualStateOfWorld asw = new ActualStateOfWorld();
  public final OperationExecutor executor;
  public final VolumeOperations operations;
  public final Reconciler reconciler;
  public final Vertx vertx;
  public final Context context;
  public final ActualStateJournal journal;
  public final DriverRegistry drivers = new DriverRegistry();
  private final List<Waiter> waiters = new CopyOnWriteArrayList<>();
  /** Whether closing removes the temporary directory: false once a {@link #restarted()} node took it over. */
  private boolean ownsHost;
  private boolean stopped;

  private ReconcilerFixture(Options options, Path tmp, FakeMounter mounter, FakeCsiNodeClient csi, AtomicLong clock, boolean ownsHost) {
    this.tmp = tmp;
    this.mounter = mounter;
    this.csi = csi;
    this.clock = clock;
    this.ownsHost = ownsHost;
    this.layout = new KubeletLayout(tmp.resolve("kubelet"));
    this.vertx = Vertx.vertx();
    this.context = vertx.getOrCreateContext();
    this.journal = new ActualStateJournal(tmp.resolve("state"), BOOT);
    drivers.put(new RegisteredDriver(DRIVER, "unix://" + tmp.resolve("no-driver.sock"), tmp.resolve("no-registration.sock"), "node-1",
        Map.of(), options.maxVolumesPerNode(), List.of("STAGE_UNSTAGE_VOLUME"), "1.0.0", 1, true));
    this.executor = new OperationExecutor(options.maxParallel(), BACKOFF, BACKOFF.multipliedBy(8), clock::get);
    this.operations = new VolumeOperations(vertx, layout, "node-1", drivers, csi, asw, () -> ClusterObjects.EMPTY, journal, mounter);
    this.reconciler = new Reconciler(vertx, context, layout, asw, executor, operations, Duration.ofHours(1),
        driver -> drivers.get(driver).map(RegisteredDriver::maxVolumesPerNode).orElse(0L), options.removeOrphans(), mounter);
    reconciler.onSnapshot(this::checkWaiters);
    // What the journal says, checked against the fake host, as the volume manager does at start.
    ActualStateJournal.reconstruct(journal.readAll(), BOOT, mounter::isMountPoint, asw);
  }

  /** A node of its own, not started: the test may add to the actual state first (as a reconstruction would). */
  public static ReconcilerFixture create(Options options) {
    try {
      FakeMounter mounter = new FakeMounter();
      return new ReconcilerFixture(options, Files.createTempDirectory("reconciler-test-"), mounter, new FakeCsiNodeClient(mounter),
          new AtomicLong(System.currentTimeMillis()), true);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A node of its own, started. */
  public static ReconcilerFixture started() {
    return create(Options.defaults()).start();
  }

  /** A node of its own with these options, started. */
  public static ReconcilerFixture started(Options options) {
    return create(options).start();
  }

  public ReconcilerFixture start() {
    reconciler.start();
    return this;
  }

  /**
   * The agent killed and started again on the same host: this reconciler stops (its temporary directory stays), and a
   * new one reads the journal this one wrote, with the same mounts and the same driver, not started.
   */
  public ReconcilerFixture restarted() {
    closeAgent();
    ownsHost = false;
    return new ReconcilerFixture(Options.defaults(), tmp, mounter, csi, clock, true);
  }

  // ------------------------------------------------------------------ desired state

  public static VolumeSpec pv(String name) {
    String handle = "handle-" + name;
    return new VolumeSpec(KubeletLayout.uniqueVolumeName(DRIVER, handle), DRIVER, handle, name, false, false, "ext4", List.of(),
        "ReadWriteOnce", Map.of(), null, null, false, false, "None", name, "default/claim-" + name);
  }

  public static PodToMount pod(String name) {
    return new PodToMount(uid(name), "default/" + name, "default", name, "default", "data", false, null, null);
  }

  public static String uid(String podName) {
    return UUID.nameUUIDFromBytes(podName.getBytes(StandardCharsets.UTF_8)).toString();
  }

  /** One pod and the volumes it needs. */
  public record Wants(PodToMount pod, List<VolumeSpec> volumes) {}

  public static Wants wants(PodToMount pod, VolumeSpec... volumes) {
    return new Wants(pod, List.of(volumes));
  }

  public static DesiredStateOfWorld desired(Wants... pods) {
    Map<String, VolumeSpec> specs = new LinkedHashMap<>();
    Map<String, Map<String, PodToMount>> users = new LinkedHashMap<>();
    Map<String, PodVolumes> byPod = new LinkedHashMap<>();
    for (Wants w : pods) {
      Map<String, String> names = new LinkedHashMap<>();
      for (VolumeSpec v : w.volumes()) {
        specs.put(v.uniqueName(), v);
        users.computeIfAbsent(v.uniqueName(), k -> new LinkedHashMap<>()).put(w.pod().podUid(), w.pod());
        names.put(v.uniqueName(), w.pod().podVolumeName());
      }
      byPod.put(w.pod().podUid(), new PodVolumes(w.pod().podUid(), w.pod().podKey(), List.copyOf(names.keySet()), names,
          List.of(), List.of(), List.of()));
    }
    Map<String, DesiredVolume> volumes = new LinkedHashMap<>();
    specs.forEach((name, spec) -> volumes.put(name, new DesiredVolume(spec, users.get(name))));
    return new DesiredStateOfWorld(volumes, byPod);
  }

  /** Hands the reconciler this desired state. */
  public void want(Wants... pods) {
    reconciler.update(desired(pods));
  }

  // ------------------------------------------------------------------ time

  /** Moves the executor's clock on (backoffs end) and runs a pass. */
  public void advance(Duration d) {
    clock.addAndGet(d.toMillis());
    Await.result(reconciler.reconcileNow());
  }

  // ------------------------------------------------------------------ waiting

  /**
   * The first snapshot (the current one, or one the reconciler publishes later) that satisfies the condition; fails
   * the test after 20 s with the last snapshot and the driver's calls.
   */
  public Reconciler.Snapshot await(String what, Predicate<Reconciler.Snapshot> condition) {
    Waiter w = new Waiter(what, condition, new CompletableFuture<>());
    waiters.add(w);
    context.runOnContext(v -> checkWaiters());
    try {
      return w.done().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return fail("not reached within " + WAIT.toSeconds() + " s: " + what + "\nlast snapshot: " + reconciler.snapshot()
          + "\ncalls: " + csi.calls() + "\nmounted: " + mounter.mounted());
    } catch (InterruptedException | ExecutionException e) {
      throw new AssertionError(e);
    } finally {
      waiters.remove(w);
    }
  }

  /** As {@link #await}, also requiring that no operation runs: what the reconciler does next waits for a change. */
  public Reconciler.Snapshot settled(String what, Predicate<Reconciler.Snapshot> condition) {
    return await(what + " (and no operation running)", s -> s.running().isEmpty() && condition.test(s));
  }

  private void checkWaiters() {
    Reconciler.Snapshot s = reconciler.snapshot();
    for (Waiter w : waiters) {
      if (w.condition().test(s)) {
        w.done().complete(s);
      }
    }
  }

  // ------------------------------------------------------------------ reading snapshots

  public static VolumeView volume(Reconciler.Snapshot s, VolumeSpec v) {
    return s.actualByName().get(v.uniqueName());
  }

  /** The pod's publish state of the volume, or null when the actual state has none. */
  public static MountState podState(Reconciler.Snapshot s, VolumeSpec v, PodToMount pod) {
    VolumeView view = volume(s, v);
    return view == null ? null : view.pods().stream().filter(p -> p.podUid().equals(pod.podUid())).map(MountedPod::state)
        .findFirst().orElse(null);
  }

  public static DeviceState device(Reconciler.Snapshot s, VolumeSpec v) {
    VolumeView view = volume(s, v);
    return view == null ? null : view.device();
  }

  public static boolean published(Reconciler.Snapshot s, VolumeSpec v, PodToMount pod) {
    return podState(s, v, pod) == MountState.MOUNTED;
  }

  /** Where the volume is published for the pod. */
  public Path target(VolumeSpec v, PodToMount pod) {
    return layout.publishPath(pod.podUid(), v.specName());
  }

  public Path staging(VolumeSpec v) {
    return layout.stagingPath(v.driver(), v.volumeHandle());
  }

  // ------------------------------------------------------------------ the end

  private void closeAgent() {
    if (stopped) {
      return;
    }
    stopped = true;
    Await.result(reconciler.stop());
    journal.close();
    Await.result(vertx.close());
  }

  @Override
  public void close() {
    closeAgent();
    if (ownsHost) {
      TestDirectories.remove(tmp); // nothing is mounted in it: the mounts are fakes
    }
  }
}
