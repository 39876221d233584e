package dev.csinode.simulator.node;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.podsource.ApiObjectStore;
import dev.csinode.agent.volume.MountPoints;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.plugins.PluginManager;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The simulated node: the real agent library ({@link Agent}) in this process, each incarnation on a Vert.x of its
 * own so that a crash can drop it whole. No bundled driver (the driver under test registers through
 * {@code <root>/plugins_registry}), no manifests directory (the scenario applies objects through
 * {@link Agent#apply}), no metrics listener (the registry is read in process), the API socket under the root.
 * The boot id is the node's own, so that a simulated reboot is one to the agent's journal.
 */
public final class SimulatedNode {
  private static final Logger LOG = LoggerFactory.getLogger(SimulatedNode.class);
  /** The name of the plugin manager's watcher thread, the one thread of an agent its Vert.x does not own. */
  private static final String WATCHER_THREAD = "plugin-watcher";

  /**
   * @param simulatedMounts the node's mount table for runs without root; null: the kernel's, real mounts
   * @param workDir         the simulation's work directory: on a reboot, mounts beneath it (and beneath the root) go
   *                        and loop devices backed by files beneath it are detached; the root when not given
   */
  public record Options(Path rootDir, String nodeName, VolumeManager.Options volumeOptions, SimulatedMounts simulatedMounts,
                        Path workDir) {
    public Options(Path rootDir, String nodeName, VolumeManager.Options volumeOptions, SimulatedMounts simulatedMounts) {
      this(rootDir, nodeName, volumeOptions, simulatedMounts, null);
    }

    public Options {
      rootDir = Objects.requireNonNull(rootDir, "rootDir").toAbsolutePath().normalize();
      Objects.requireNonNull(nodeName, "nodeName");
      volumeOptions = volumeOptions == null ? VolumeManager.Options.defaults() : volumeOptions;
      workDir = workDir == null ? rootDir : workDir.toAbsolutePath().normalize();
    }
  }

  private final Options options;
  /** Where agents are constructed and started, one at a time. */
  private final ExecutorService lifecycle;
  private volatile String bootId = UUID.randomUUID().toString();
  private volatile Vertx vertx;
  private volatile Agent agent;
  /** The current incarnation's threads that would outlive its Vert.x. */
  private volatile List<Thread> threads = List.of();
  /** The loop devices attached when the node started: a reboot leaves them (they are not the run's, maybe a user's). */
  private final Set<String> loopsBefore;

  private SimulatedNode(Options options) {
    this.options = options;
    this.loopsBefore = options.simulatedMounts() != null ? Set.of() : Set.copyOf(LoopDevices.list());
    this.lifecycle = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "simulated-node-" + options.nodeName());
      t.setDaemon(true);
      return t;
    });
  }

  /** Starts the first agent; with real mounts, only in a private mount namespace ({@link MountNamespace#requirePrivate}). */
  public static Future<SimulatedNode> start(Options options) {
    SimulatedNode node = new SimulatedNode(options);
    Vertx first = Vertx.vertx();
    Future<Void> allowed = options.simulatedMounts() != null ? Future.succeededFuture() : first.executeBlocking(() -> {
      MountNamespace.requirePrivate();
      return null;
    }, false);
    return allowed.recover(err -> first.close().transform(ar -> Future.failedFuture(err)))
        .compose(v -> node.startAgent(first)).map(node)
        .onFailure(err -> node.lifecycle.shutdown());
  }

  /** The running incarnation; a restart or reboot replaces it. */
  public Agent agent() {
    return agent;
  }

  public Options options() {
    return options;
  }

  /** The boot id the agent sees now; a reboot changes it. */
  public String bootId() {
    return bootId;
  }

  /**
   * Clean: the agent stops as on SIGTERM, then a new one starts. Crash: its Vert.x is closed under it, nothing it
   * would do on the way out is done; the disk (journal, pushed objects) stays and the new agent reconstructs from it.
   */
  public Future<Void> restart(boolean crash) {
    return restart(crash, List.of());
  }

  /**
   * A restart during which the pods ({@code namespace/name}) are deleted, as by a runtime or API server while the
   * agent was down: they are taken out of the agent's store of pushed objects between the stop and the start, so
   * that the new agent finds their volumes on disk and in its journal with no pod wanting them. A pod not in the
   * store fails the restart, after the new agent started (so that what the node has can still be torn down).
   */
  public Future<Void> restart(boolean crash, List<String> forget) {
    LOG.info("node {}: agent {}{}", options.nodeName(), crash ? "crashes" : "restarts",
        forget.isEmpty() ? "" : "; pods deleted while it is down: " + forget);
    return dropAgent(crash).compose(v -> (forget.isEmpty() ? Future.<Void>succeededFuture() : onLifecycle(() -> {
      forgetPods(forget);
      return null;
    })).transform(forgot -> startAgent(Vertx.vertx()).compose(started -> forgot.succeeded() ? Future.<Void>succeededFuture()
        : Future.<Void>failedFuture(forgot.cause()))));
  }

  /** Blocking: the pods removed from the stopped agent's store of pushed objects. */
  private void forgetPods(List<String> pods) throws IOException {
    try (ApiObjectStore store = new ApiObjectStore(agentStateDir())) {
      for (String pod : pods) {
        String[] ref = pod.split("/", 2);
        if (!store.delete("Pod", ref[0], ref[1])) {
          throw new IllegalStateException("pod " + pod + " is not among the objects the agent keeps, so it cannot be "
              + "deleted while the agent is down");
        }
      }
    }
  }

  /** Where the agent keeps its journal and pushed objects. */
  private Path agentStateDir() {
    return new Agent.Config(options.rootDir(), options.nodeName(), null, null, PluginManager.Options.defaults()).stateDir();
  }

  /** Runs blocking work on the node's own thread, between two incarnations. */
  private Future<Void> onLifecycle(Callable<Void> work) {
    Promise<Void> done = Promise.promise();
    try {
      lifecycle.execute(() -> {
        try {
          work.call();
          done.complete();
        } catch (Exception e) {
          done.fail(e);
        }
      });
    } catch (RejectedExecutionException e) {
      done.fail(new IllegalStateException("node " + options.nodeName() + " is stopped"));
    }
    return done.future();
  }

  /**
   * The node reboots: the agent is lost as in a crash, the boot id changes, every mount beneath the root and the
   * work dir is gone (deepest first, in this process's own mount namespace; or the simulated table is emptied),
   * loop devices backed by files beneath the work dir are detached, and a new agent starts. The driver under test
   * is the caller's to stop before and start after, as on a real node.
   */
  public Future<Void> reboot() {
    LOG.info("node {}: reboots", options.nodeName());
    return dropAgent(true).compose(v -> {
      Vertx next = Vertx.vertx();
      return next.executeBlocking(() -> {
        powerCycle();
        return null;
      }, false).recover(err -> next.close().transform(ar -> Future.failedFuture(err)))
          .compose(x -> startAgent(next));
    });
  }

  public Future<Void> stop() {
    return dropAgent(false).onComplete(ar -> lifecycle.shutdown());
  }

  private Future<Void> dropAgent(boolean crash) {
    Agent a = agent;
    Vertx v = vertx;
    List<Thread> outliving = threads;
    agent = null;
    vertx = null;
    threads = List.of();
    if (v == null) {
      return Future.succeededFuture();
    }
    if (crash) {
      // A killed process takes every thread with it (and the kernel its lock on the root); in process, the plugin
      // watcher's would wait for its next event.
      a.abandon();
      return v.close().onComplete(ar -> outliving.forEach(Thread::interrupt));
    }
    return a.stop().eventually(v::close);
  }

  /**
   * Constructs and starts the agent on the node's own thread, as a command line's main thread does: its start reads
   * the journal and makes directories before it hands over to its Vert.x.
   */
  private Future<Void> startAgent(Vertx v) {
    MountPoints mounts = options.simulatedMounts() != null ? options.simulatedMounts() : MountPoints.host();
    Agent.Config config = new Agent.Config(options.rootDir(), options.nodeName(), null, null, PluginManager.Options.defaults(),
        null, options.volumeOptions(), null, false).withHost(new VolumeManager.Host(mounts, () -> bootId));
    Promise<Void> started = Promise.promise();
    try {
      lifecycle.execute(() -> {
        Set<Thread> before = watcherThreads();
        Agent a = new Agent(v, config);
        a.start().onComplete(ar -> {
          List<Thread> mine = watcherThreads().stream().filter(t -> !before.contains(t)).toList();
          if (ar.succeeded()) {
            vertx = v;
            agent = a;
            threads = mine;
            started.complete();
          } else {
            mine.forEach(Thread::interrupt);
            a.abandon();
            v.close().onComplete(x -> started.fail(ar.cause()));
          }
        });
      });
    } catch (RejectedExecutionException e) {
      v.close();
      started.fail(new IllegalStateException("node " + options.nodeName() + " is stopped"));
    }
    return started.future();
  }

  private static Set<Thread> watcherThreads() {
    Set<Thread> found = new HashSet<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals(WATCHER_THREAD)) {
        found.add(t);
      }
    }
    return found;
  }

  /** What a power cycle takes away. Blocking. */
  private void powerCycle() {
    bootId = UUID.randomUUID().toString();
    if (options.simulatedMounts() != null) {
      options.simulatedMounts().clear();
      return;
    }
    Mounter mounter = new Mounter();
    for (Path mountPoint : mountsBeneath(MountTable.read(), List.of(options.rootDir(), options.workDir()))) {
      mounter.unmountAll(mountPoint);
    }
    LoopDevices loops = new LoopDevices();
    for (String device : loopsBackedBeneath(LoopDevices.list(), options.workDir(), loopsBefore)) {
      loops.detach(device);
    }
  }

  /** The mount points at or beneath any of the dirs, deepest first (a mount over a mount goes before it). */
  static List<Path> mountsBeneath(MountTable table, List<Path> dirs) {
    Map<String, Path> points = new LinkedHashMap<>();
    for (Path dir : dirs) {
      for (MountInfo m : table.under(dir)) {
        points.putIfAbsent(m.mountPoint(), Path.of(m.mountPoint()));
      }
    }
    List<Path> sorted = new ArrayList<>(points.values());
    sorted.sort(Comparator.comparingInt(Path::getNameCount).reversed());
    return sorted;
  }

  /**
   * The loop devices among {@link LoopDevices#list()}'s "NAME BACK-FILE" lines backed by a file beneath dir, except
   * those whose line was already there before (attached before the node started).
   */
  static List<String> loopsBackedBeneath(List<String> lines, Path dir, Set<String> before) {
    List<String> devices = new ArrayList<>();
    for (String line : lines) {
      if (before.contains(line)) {
        continue;
      }
      int space = line.indexOf(' ');
      if (space < 0) {
        continue; // no backing file
      }
      String file = line.substring(space + 1).trim().replaceFirst(" \\(deleted\\)$", "");
      if (!file.isEmpty() && Path.of(file).normalize().startsWith(dir)) {
        devices.add(line.substring(0, space));
      }
    }
    return devices;
  }
}
