package dev.csinode.simulator;

import dev.csinode.agent.Agent;
import dev.csinode.agent.NodeVertx;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.plugins.PluginManager;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BooleanSupplier;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent bench-agent}: the volume manager with the bundled driver and real mounts, in this
 * process, measured from the outside (wall clock, process CPU, RSS, CSI call counts). Run it through
 * scripts/bench.sh, which puts it in a private mount namespace.
 */
@Command(name = "bench-agent", mixinStandardHelpOptions = true, hidden = true,
    description = "Benchmark the volume manager: batch publish/teardown, churn latency, restart, idle cost, floors.")
public final class VolumeManagerBenchmark implements Callable<Integer> {
  /** The warm-up ends after two rounds in a row in which the JIT compiler threads used less than this share of one core. */
  private static final int JIT_SETTLED_PERCENT = 3;

  /** Room for the warm-up's and the batch's provisioned volumes and pod directories (inodes, not data). */
  private static final long ROOT_FS_BYTES = 4L << 30;

  private static final String STORAGE = """
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: hostpath.csinode.dev}
      spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Persistent, Ephemeral]}
      ---
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: dir}
      provisioner: hostpath.csinode.dev
      parameters: {kind: directory}
      """;

  @Option(names = "--work-dir", required = true) Path work;
  @Option(names = "--pods", defaultValue = "1000") int pods;
  @Option(names = "--churn-rate", defaultValue = "100") int churnRate;
  @Option(names = "--churn-seconds", defaultValue = "30") int churnSeconds;
  @Option(names = "--warm-up", defaultValue = "2000",
      description = "Pods per warm-up round: the agent takes them through a whole batch first, not measured, so the figures are of a running agent, not of a cold JVM (0: none).")
  int warmUp;
  @Option(names = "--warm-up-rounds", defaultValue = "40",
      description = "At most this many warm-up rounds; fewer when the JIT settles sooner (its compiler threads under 3 % of a core in two rounds in a row).")
  int warmUpRounds;
  @Option(names = "--timeline", description = "Print, every 250 ms of the batch, how many volumes are desired, staged and published.")
  boolean timeline;
  @Option(names = "--jfr", description = "Record the fresh agent's first batch and the measured batch with JFR (the JDK's 'profile' settings) into DIR/cold.jfr and DIR/batch.jfr: where their CPU, allocations and compilations go.")
  Path jfr;
  @Option(names = "--async-profiler", paramLabel = "LIB:ARGS", converter = AsyncProfiler.Converter.class, description = "Profile the fresh agent's first batch and the measured batch with async-profiler, loaded into this JVM (LIB, libasyncProfiler.so) with ARGS, e.g. event=alloc,collapsed,file=/tmp/%%b.txt: %%b is cold or batch.")
  AsyncProfiler asyncProfiler;

  /**
   * {@code --async-profiler LIB:ARGS}, split and checked when the command line is read: a wrong value found only when
   * the profiler is loaded would end the run after the root filesystem, the agent and the first pods were made.
   */
  record AsyncProfiler(Path library, String args) {
    static final class Converter implements CommandLine.ITypeConverter<AsyncProfiler> {
      @Override
      public AsyncProfiler convert(String value) {
        int colon = value.indexOf(':');
        if (colon <= 0) {
          throw new CommandLine.TypeConversionException("'" + value + "' is not LIB:ARGS: the path of libasyncProfiler.so, "
              + "a colon, and the profiler's arguments, e.g. /tmp/ap/linux-x64/libasyncProfiler.so:event=cpu,collapsed,file=/tmp/%b.txt");
        }
        Path library = Path.of(value.substring(0, colon));
        if (!Files.isRegularFile(library)) {
          throw new CommandLine.TypeConversionException("'" + library + "' (before the ':') is not a file; give the path of "
              + "libasyncProfiler.so");
        }
        return new AsyncProfiler(library, value.substring(colon + 1));
      }
    }
  }

  private final List<String[]> rows = new ArrayList<>();
  /** When the fresh agent's first batch was all published, and what it took from the start of that batch. */
  private Figures coldPublished;
  private Figures coldFigures;

  /**
   * What the measured batch reads before and after it: every warm-up round reads the same around its batch. The
   * benchmark runs in the agent's JVM, so code it runs only around the measured batch shares the JDK's compiled
   * methods with the agent: the regex split of /proc/stat (machineCpuMillis), run there first, hit an uncommon trap
   * in String.split, whose C2 code had only seen the agent's one-character splits (mountinfo); that deoptimized it at
   * the batch's start and C2 compiled it again during the batch (~220 ms of compile tasks of the batch's JIT,
   * -XX:+LogCompilation), the agent's mountinfo parsing in C1 code meanwhile.
   */
  private record Readings(long cpuNanos, long jitMillis, long allocated, long[] machine, long[] gc) {
    static Readings now() throws IOException {
      return new Readings(cpu(), compilerCpuMillis(), allocatedBytes(), machineCpuMillis(), VolumeManagerBenchmark.gc());
    }
  }

  /** The process's CPU, its JIT compiler threads', collections and classes loaded, as counters since the start. */
  private record Figures(long cpuMillis, long jitMillis, long gcs, long gcMillis, long classes) {
    static Figures now() throws IOException {
      long[] gc = gc();
      return new Figures(cpu() / 1_000_000, compilerCpuMillis(), gc[0], gc[1],
          ManagementFactory.getClassLoadingMXBean().getTotalLoadedClassCount());
    }

    Figures minus(Figures o) {
      return new Figures(cpuMillis - o.cpuMillis, jitMillis - o.jitMillis, gcs - o.gcs, gcMillis - o.gcMillis, classes - o.classes);
    }
  }

  @Override
  public Integer call() throws Exception {
    Path root = work.resolve("root");
    Vertx vertx = NodeVertx.create();

    // The kubelet root on a filesystem of its own, as on a node: a fresh ext4 with a journal. The work directory's
    // filesystem may be anything; ext4 without a journal (this machine's root) makes every inode allocation skip the
    // inodes deleted in the last minute or more, so a warm-up there would slow the batch after it.
    Files.createDirectories(root);
    Path image = work.resolve("root.img");
    try (var f = new RandomAccessFile(image.toFile(), "rw")) {
      f.setLength(ROOT_FS_BYTES); // sparse
    }
    // Inode tables and journal written now, not by the kernel's lazy init thread while the benchmark runs.
    run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard", image.toString());
    run("mount", "-o", "loop", image.toString(), root.toString());
    row("kubelet root", "filesystem", "ext4 with a journal, " + (ROOT_FS_BYTES >> 30) + " GiB, on a loop device");

    // One variable for the agent measured, reassigned at the restart: a second one holding the first agent would keep
    // it, stopped, with all its state (its API objects, the driver's volumes, its Vert.x) alive in this frame through
    // the churn, where it doubled the heap a full collection marks (two Agents in a class histogram taken then).
    Agent agent = start(vertx, root);
    agent.apply(STORAGE).await();
    // Memory of the agent with no volume yet, before the warm-up: what a node's agent costs at rest.
    long idleHeapUsed = memory("idle with no volume, before the warm-up");
    // 0. Warm-up of the agent that is then measured: batches like the measured one, published and torn down, so the
    // figures are of an agent that has been running, as a node's agent is, not of a JVM still compiling it. On 2
    // cores the JVM has one C2 compiler thread, and the compile thresholds grow with its queue: it took ~11 rounds
    // (~50 s) before the compiler threads used under JIT_SETTLED_PERCENT of a core, a batch measured after 5 rounds
    // spent 0.5-1 s of its CPU compiling, and even after one quiet round a batch could still spend 0.6 s. A separate
    // agent warmed up and stopped did not do either: its stop and the new agent's start deoptimised ~240 methods
    // (JFR jdk.Deoptimization), recompiled during the batch.
    long coldNanos = -1;
    if (warmUp > 0) {
      int rounds = 0;
      int quietInARow = 0;
      long jitMillis;
      long wallMillis;
      do {
        long jit0 = compilerCpuMillis();
        long w0 = System.nanoTime();
        Recording recording = rounds == 0 ? record() : null;
        // The first round is the measured batch's size: a freshly started agent's first batch (issue 16: within
        // 2x of the warmed one), the JIT cold.
        Figures before = rounds == 0 ? Figures.now() : null;
        long published = warmUpRound(agent, rounds, rounds == 0 ? pods : warmUp);
        if (rounds++ == 0) {
          coldNanos = published;
          coldFigures = coldPublished.minus(before);
          stop(recording, "cold.jfr");
        }
        jitMillis = compilerCpuMillis() - jit0;
        wallMillis = (System.nanoTime() - w0) / 1_000_000;
        quietInARow = jitMillis * 100 < wallMillis * JIT_SETTLED_PERCENT ? quietInARow + 1 : 0;
        System.err.printf("warm-up round %d: %d ms, JIT compiler threads %d ms%n", rounds, wallMillis, jitMillis);
      } while (rounds < warmUpRounds && quietInARow < 2);
      row("first batch of the freshly started agent", pods + " pods, all published, JIT cold", ms(coldNanos));
      // CPU, compilations, collections and class loading: the figures load on the machine hardly changes.
      row("", "CPU of the process meanwhile", coldFigures.cpuMillis() + " ms, of which the JIT compiler threads "
          + coldFigures.jitMillis() + " ms");
      row("", "garbage collections meanwhile", coldFigures.gcs() + ", " + coldFigures.gcMillis() + " ms");
      row("", "classes loaded meanwhile", Long.toString(coldFigures.classes()));
      row("warm-up of the measured agent", "rounds of pods published and torn down", rounds + " x " + warmUp
          + " pods; JIT " + Math.round(100.0 * jitMillis / Math.max(1, wallMillis)) + " % of a core in the last");
    }
    String mkdirFloor = floorMkdir(root);

    // 1. A batch of pods, one provisioned claim each, added at once.
    StringBuilder batch = new StringBuilder();
    for (int i = 0; i < pods; i++) {
      batch.append(claimAndPod("b" + i));
    }
    Recording recording = record();
    Readings before = Readings.now();
    long jit0 = before.jitMillis();
    long batchCpu0 = before.cpuNanos();
    long allocated0 = before.allocated();
    long[] machine0 = before.machine();
    long[] gc0 = before.gc();
    long t0 = System.nanoTime();
    long timer = timeline ? progressTimer(vertx, agent, t0) : -1;
    agent.apply(batch.toString()).await();
    if (timeline) {
      System.err.printf("%6.0f ms: apply returned%n", (System.nanoTime() - t0) / 1e6);
    }
    // As a runtime would: wait for each pod through the agent (event driven), not by polling its status.
    List<Future<?>> ready = new ArrayList<>();
    for (int i = 0; i < pods; i++) {
      ready.add(agent.volumeManager().whenReady("default/b" + i, Duration.ofMinutes(10)));
    }
    Future.all(ready).await();
    vertx.cancelTimer(timer);
    if (timeline) { // wall-clock bounds, to cut a profile (JFR, perf) down to the batch
      long took = (System.nanoTime() - t0) / 1_000_000;
      long uptime = ManagementFactory.getRuntimeMXBean().getUptime();
      System.err.printf("batch ran from %d to %d (epoch ms), JVM uptime %d to %d ms (-XX:+PrintCompilation's clock)%n",
          System.currentTimeMillis() - took, System.currentTimeMillis(), uptime - took, uptime);
    }
    long warmNanos = System.nanoTime() - t0;
    Readings after = Readings.now();
    long allocated = after.allocated() - allocated0;
    stop(recording, "batch.jfr");
    row(pods + " pods, 1 PVC each, added at once", "all published", ms(warmNanos));
    if (coldNanos > 0) {
      row("", "the fresh agent's first batch / this", String.format("%.1f x (target <= 2)", (double) coldNanos / warmNanos));
    }
    row("", "CPU of the process meanwhile", (after.cpuNanos() - batchCpu0) / 1_000_000 + " ms, of which the JIT compiler threads "
        + (after.jitMillis() - jit0) + " ms");
    row("", "Java heap allocated meanwhile", String.format("%.0f MiB (threads alive at the end)", allocated / 1048576.0));
    long[] machine = after.machine();
    long[] gc = after.gc();
    row("", "garbage collections meanwhile", (gc[0] - gc0[0]) + ", " + (gc[1] - gc0[1]) + " ms");
    row("", "CPU of the whole machine meanwhile", (machine[0] - machine0[0]) + " ms busy (the kernel's threads too: journal,"
        + " loop device, writeback), " + (machine[1] - machine0[1]) + " ms stolen by the hypervisor");
    for (String method : List.of("CreateVolume", "NodeStageVolume", "NodePublishVolume")) {
      row("", "mean " + method + " as the agent saw it", ms((long) (csiSeconds(agent, method) / Math.max(1, csiCalls(agent, method)) * 1e9)));
    }

    // 2. Idle cost with them mounted.
    long cpu0 = cpu();
    long idleJit0 = compilerCpuMillis();
    Thread.sleep(10_000);
    row("idle with " + pods + " volumes mounted, 10 s", "CPU", String.format("%.1f %% of one core (JIT %.1f %%)",
        (cpu() - cpu0) / 1e7 / 10, (compilerCpuMillis() - idleJit0) / 100.0));
    long heapUsed = memory("idle with " + pods + " volumes mounted");
    row("", "Java heap per mounted volume", String.format("%.1f KiB (heap in use after a full GC, minus the idle agent's, / %d)",
        (heapUsed - idleHeapUsed) / 1024.0 / pods, pods));

    // 3. Restart with everything mounted: rebuild from the journal and the host.
    agent.stop().await();
    vertx.close().await();
    vertx = NodeVertx.create();
    long r0 = System.nanoTime();
    agent = start(vertx, root);
    Agent restarted = agent;
    List<Future<?>> again = new ArrayList<>();
    for (int i = 0; i < pods; i++) {
      again.add(restarted.volumeManager().whenReady("default/b" + i, Duration.ofMinutes(5)));
    }
    Future.all(again).await();
    row("restart with " + pods + " volumes mounted", "all ready again", ms(System.nanoTime() - r0));
    row("restart with " + pods + " volumes mounted", "CSI calls to stage/publish", Long.toString(
        csiCalls(agent, "NodeStageVolume") + csiCalls(agent, "NodePublishVolume")));

    // 4. Teardown of the batch.
    long d0 = System.nanoTime();
    for (int i = 0; i < pods; i++) {
      agent.deletePod("default", "b" + i);
    }
    // The reconciler's snapshot, not the status view: building that for a thousand volumes every 5 ms took CPU from
    // the teardown it measures.
    await(() -> restarted.volumeManager().reconciler().snapshot().actualByName().isEmpty(), Duration.ofMinutes(10));
    if (timeline) {
      long took = (System.nanoTime() - d0) / 1_000_000;
      System.err.printf("teardown ran from %d to %d (epoch ms)%n", System.currentTimeMillis() - took, System.currentTimeMillis());
    }
    row(pods + " pods deleted at once", "all unpublished and unstaged", ms(System.nanoTime() - d0));

    // 5. Churn: churnRate pods/s with an inline volume each, each living 5 s; ready latency per pod.
    long c0 = System.currentTimeMillis();
    List<Long> latencies = churn(agent);
    if (timeline) {
      System.err.printf("churn ran from %d to %d (epoch ms)%n", c0, System.currentTimeMillis());
    }
    long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    row("churn " + churnRate + " pods/s for " + churnSeconds + " s (" + l.length + " pods)", "ready latency p50",
        ms(l[l.length / 2]));
    row("", "ready latency p99", ms(l[(int) Math.min(l.length - 1, Math.ceil(l.length * 0.99) - 1)]));

    // 6. Floors on this machine.
    row("floor", "mkdir in the kubelet root, before the batch", mkdirFloor);
    row("floor", "bind mount + umount2 (syscalls)", floorMount(work));
    row("floor", "gRPC round trip over a UNIX socket (Probe)", floorGrpc(vertx, root));

    agent.volumeManager().drain(Duration.ofMinutes(5)).await();
    agent.stop().await();
    vertx.close().await();
    print();
    return 0;
  }

  /**
   * One warm-up round: {@code size} pods with a claim each, published, then deleted with their volumes and
   * directories; returns the nanoseconds until all were published.
   */
  private long warmUpRound(Agent warm, int round, int size) throws InterruptedException, IOException {
    String prefix = "w" + round + "-";
    StringBuilder w = new StringBuilder();
    for (int i = 0; i < size; i++) {
      w.append(claimAndPod(prefix + i));
    }
    Readings.now(); // read as around the measured batch (Readings), not used
    long t0 = System.nanoTime();
    warm.apply(w.toString()).await();
    List<Future<?>> ready = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      ready.add(warm.volumeManager().whenReady("default/" + prefix + i, Duration.ofMinutes(10)));
    }
    Future.all(ready).await();
    long published = System.nanoTime() - t0;
    Readings.now();
    if (round == 0) {
      coldPublished = Figures.now();
    }
    if (timeline) {
      // What the batch's progress lines need made now: a lambda class spun during the batch had the JIT compile
      // the JDK's class writer there (130 ms of C2).
      progressLine(warm, System.nanoTime());
    }
    List<Future<?>> deleted = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      deleted.add(warm.deletePod("default", prefix + i));
      deleted.add(warm.deleteObject("PersistentVolumeClaim", "default", prefix + i));
    }
    Future.all(deleted).await();
    await(() -> warm.volumeManager().reconciler().snapshot().actualByName().isEmpty()
        && warm.volumeManager().operationsInFlight() == 0, Duration.ofMinutes(10));
    // The provisioned volumes deleted too: their claims' releases are recorded first and the deletions start at the
    // binding after that, so the provisioner can be between the two (idle) with all of them still to delete; they
    // were deleted during the measured batch then (7 % of its allocations).
    await(() -> warm.volumeManager().provisioning().volumes().isEmpty(), Duration.ofMinutes(10));
    warm.volumeManager().idle(Duration.ofMinutes(1)).await();
    // The round's pod directories removed now, as on a node where the pods went some time ago, rather than by the
    // periodic housekeeping in the middle of the measured batch (it was 13 % of the batch's CPU).
    warm.volumeManager().reconciler().housekeep(true).await();
    return published;
  }

  private static Agent start(Vertx vertx, Path root) {
    Agent agent = new Agent(vertx, new Agent.Config(root, "bench-node", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), null,
        VolumeManager.Options.defaults(), null, false));
    return agent.start().await();
  }

  private static String claimAndPod(String name) {
    return """
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %1$s, namespace: default}
        spec: {storageClassName: dir, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: %1$s, namespace: default}
        spec:
          containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes: [{name: data, persistentVolumeClaim: {claimName: %1$s}}]
        """.formatted(name);
  }

  private List<Long> churn(Agent agent) throws Exception {
    Map<String, Long> added = new ConcurrentHashMap<>();
    Map<String, Long> latency = new ConcurrentHashMap<>();
    // --timeline: when each apply returned (its objects durable in the agent's store), to split a slow pod's latency
    // into the store's write and what came after it.
    Map<String, Long> appliedAfter = new ConcurrentHashMap<>();
    long start = System.nanoTime();
    long periodNanos = 1_000_000_000L / churnRate;
    int n = 0;
    long end = start + churnSeconds * 1_000_000_000L;
    while (System.nanoTime() < end) {
      long due = start + n * periodNanos;
      long wait = due - System.nanoTime();
      if (wait > 0) {
        Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
      }
      String name = "c" + n;
      long addedAt = System.nanoTime();
      added.put(name, addedAt);
      agent.apply("""
          apiVersion: v1
          kind: Pod
          metadata: {name: %s, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
            volumes: [{name: data, csi: {driver: hostpath.csinode.dev}}]
          """.formatted(name)).onSuccess(r -> {
            appliedAfter.put(name, System.nanoTime() - addedAt);
            agent.volumeManager().whenReady("default/" + name, Duration.ofMinutes(1))
                .onSuccess(p -> latency.put(name, System.nanoTime() - addedAt));
          });
      if (n >= churnRate * 5) {
        agent.deletePod("default", "c" + (n - churnRate * 5));
      }
      n++;
    }
    long grace = System.nanoTime() + 10_000_000_000L;
    while (latency.size() < added.size() && System.nanoTime() < grace) {
      Thread.sleep(10);
    }
    if (timeline) {
      // Ready latency by the second the pod was added: shows whether slow pods come in waves or steadily.
      TreeMap<Long, List<Long>> bySecond = new TreeMap<>();
      latency.forEach((name, l) -> bySecond.computeIfAbsent((added.get(name) - start) / 1_000_000_000L, k -> new ArrayList<>()).add(l));
      bySecond.forEach((sec, ls) -> System.err.printf("churn second %d: %d pods ready, median %.0f ms, max %.0f ms%n", sec, ls.size(),
          ls.stream().sorted().toList().get(ls.size() / 2) / 1e6, ls.stream().mapToLong(Long::longValue).max().orElse(0) / 1e6));
      // The slowest pods: how much of their latency was the apply (parse and durable store) and how much came after.
      latency.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(Math.max(1, latency.size() / 100))
          .forEach(e -> System.err.printf("churn slow pod %s (added at %.3f s): ready after %.1f ms, its apply returned after %.1f ms%n",
              e.getKey(), (added.get(e.getKey()) - start) / 1e9, e.getValue() / 1e6, appliedAfter.getOrDefault(e.getKey(), -1L) / 1e6));
      long[] a = appliedAfter.values().stream().mapToLong(Long::longValue).sorted().toArray();
      if (a.length > 0) {
        System.err.printf("churn apply returned: p50 %.1f ms, p99 %.1f ms%n", a[a.length / 2] / 1e6, a[(int) Math.min(a.length - 1, Math.ceil(a.length * 0.99) - 1)] / 1e6);
      }
    }
    return new ArrayList<>(latency.values());
  }

  /** Where the batch is: a cheap read of the reconciler's snapshot. */
  /** Prints {@link #progress} every 250 ms until the timer is cancelled; the agent is held by the timer only. */
  private static long progressTimer(Vertx vertx, Agent agent, long t0) {
    return vertx.setPeriodic(250, t -> progress(agent, t0));
  }

  private static void progress(Agent agent, long t0) {
    System.err.println(progressLine(agent, t0));
  }

  private static String progressLine(Agent agent, long t0) {
    var s = agent.volumeManager().reconciler().snapshot();
    long staged = s.actual().stream().filter(v -> v.device() == ActualStateOfWorld.DeviceState.MOUNTED).count();
    long published = s.actual().stream().filter(v -> v.pods().stream()
        .anyMatch(p -> p.state() == ActualStateOfWorld.MountState.MOUNTED)).count();
    return String.format("%6.0f ms: desired %d, staged %d, published %d, operations running %d", (System.nanoTime() - t0) / 1e6,
        s.desired().volumes().size(), staged, published, agent.volumeManager().operationsInFlight());
  }

  private static long csiCalls(Agent agent, String method) {
    return agent.metrics().scrape().stream().filter(s -> s.getMetadata().getName().equals("csi_operations_seconds"))
        .flatMap(s -> ((HistogramSnapshot) s).getDataPoints().stream())
        .filter(d -> d.getLabels().get("method_name").endsWith("/" + method)).mapToLong(d -> d.getCount()).sum();
  }

  private static double csiSeconds(Agent agent, String method) {
    return agent.metrics().scrape().stream().filter(s -> s.getMetadata().getName().equals("csi_operations_seconds"))
        .flatMap(s -> ((HistogramSnapshot) s).getDataPoints().stream())
        .filter(d -> d.getLabels().get("method_name").endsWith("/" + method)).mapToDouble(d -> d.getSum()).sum();
  }

  private static String floorMount(Path work) throws Exception {
    return percentiles(MachineFigures.bindMountNanos(work, 2000));
  }

  /**
   * What one directory costs now, where the agent makes pod directories: on ext4 without a journal it grows with
   * the inodes deleted in the last minutes (each is skipped one by one), which is most of a batch's CPU then.
   */
  private static String floorMkdir(Path root) throws Exception {
    Path dir = Files.createDirectories(root.resolve("pods"));
    long[] t = new long[200];
    for (int i = 0; i < t.length; i++) {
      long s = System.nanoTime();
      Files.createDirectory(dir.resolve("floor-" + i));
      t[i] = System.nanoTime() - s;
    }
    for (int i = 0; i < t.length; i++) {
      Files.delete(dir.resolve("floor-" + i));
    }
    return percentiles(t);
  }

  private static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
    }
  }

  private static String floorGrpc(Vertx vertx, Path root) {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins/hostpath.csinode.dev/csi.sock")))) {
      long[] t = new long[5000];
      for (int i = 0; i < t.length; i++) {
        long s = System.nanoTime();
        c.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), Duration.ofSeconds(5)).await();
        t[i] = System.nanoTime() - s;
      }
      return percentiles(t) + " (sequential, from a plain thread)";
    }
  }

  /** p50 and p99 of durations in nanoseconds (sorts them). */
  private static String percentiles(long[] t) {
    Arrays.sort(t);
    return String.format("p50 %.1f us, p99 %.1f us", t[t.length / 2] / 1e3, t[(int) (t.length * 0.99)] / 1e3);
  }

  private static void await(BooleanSupplier c, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("benchmark step did not finish within " + timeout);
      }
      Thread.sleep(5);
    }
  }

  /** CPU time of this JVM's JIT compiler threads: on 2 cores, compiling competes with the work being measured. */
  private static long compilerCpuMillis() throws IOException {
    return MachineFigures.compilerCpuMillis(Path.of("/proc/self"));
  }

  /** Time of all CPUs from /proc/stat: {busy (user, nice, system, irq, softirq), stolen by the hypervisor}, in ms. */
  private static long[] machineCpuMillis() throws IOException {
    String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
    long busy = 0;
    for (int i : new int[] {1, 2, 3, 6, 7}) {
      busy += Long.parseLong(f[i]);
    }
    return new long[] {busy * 10, Long.parseLong(f[8]) * 10}; // USER_HZ is 100 on Linux
  }

  /** Collections and milliseconds spent in them, all collectors together. */
  private static long[] gc() {
    long n = 0;
    long ms = 0;
    for (var bean : ManagementFactory.getGarbageCollectorMXBeans()) {
      n += Math.max(0, bean.getCollectionCount());
      ms += Math.max(0, bean.getCollectionTime());
    }
    return new long[] {n, ms};
  }

  /**
   * Bytes allocated on the Java heap so far by the threads alive now (ThreadMXBean): the agent's event loops and
   * worker threads live as long as it does, so over a batch this is what the batch allocated, the garbage the young
   * collections then have to go through. A thread that ended meanwhile takes its figure with it.
   */
  private static long allocatedBytes() {
    var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (long b : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
      sum += Math.max(0, b);
    }
    return sum;
  }

  /** A JFR recording with the JDK's 'profile' settings, started now when --jfr was given, else null. */
  private Recording record() throws Exception {
    asyncProfiler("start", "");
    if (jfr == null) {
      return null;
    }
    Recording r = new Recording(Configuration.getConfiguration("profile"));
    r.start();
    return r;
  }

  /** Starts or stops async-profiler (--async-profiler) through the JVM's diagnostic command JVMTI.agent_load. */
  private void asyncProfiler(String command, String batch) throws Exception {
    if (asyncProfiler != null) {
      // Quoted: the diagnostic command's parser would take the first '=' for one of its own name=value arguments.
      String args = '"' + command + "," + asyncProfiler.args().replace("%b", batch) + '"';
      var server = ManagementFactory.getPlatformMBeanServer();
      var name = new javax.management.ObjectName("com.sun.management:type=DiagnosticCommand");
      server.invoke(name, "jvmtiAgentLoad", new Object[] {new String[] {asyncProfiler.library().toString(), args}},
          new String[] {String[].class.getName()});
    }
  }

  private void stop(Recording r, String name) throws Exception {
    asyncProfiler("stop", name.replace(".jfr", ""));
    if (r != null) {
      Files.createDirectories(jfr);
      r.stop();
      r.dump(jfr.resolve(name));
      r.close();
    }
  }

  private static long cpu() {
    // The JDK extension of java.lang.management.OperatingSystemMXBean, the type the factory returns.
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /**
   * RSS and threads as they are, then RSS and the Java heap after a full GC: the first is what a node would see, the
   * second what the agent holds, not what the collector has yet to take back.
   *
   * @return the heap in use after the full GC, in bytes
   */
  private long memory(String what) throws Exception {
    row(what, "RSS", rss() + ", " + procStatus("Threads") + " threads");
    System.gc();
    var heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    row("", "RSS after a full GC", rss());
    row("", "Java heap after a full GC", String.format("%.0f MiB in use, %.0f MiB committed, %.0f MiB max",
        heap.getUsed() / 1048576.0, heap.getCommitted() / 1048576.0, heap.getMax() / 1048576.0));
    return heap.getUsed();
  }

  private static String rss() throws Exception {
    return String.format("%.0f MiB (agent, driver and benchmark in one JVM)", Long.parseLong(procStatus("VmRSS").replaceAll("\\D", "")) / 1024.0);
  }

  /** A field of /proc/self/status, without its name. */
  private static String procStatus(String field) throws IOException {
    return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith(field + ":"))
        .map(l -> l.substring(field.length() + 1).trim()).findFirst().orElse("?");
  }

  private static String ms(long nanos) {
    return String.format("%.1f ms", nanos / 1e6);
  }

  private void row(String what, String measure, String value) {
    rows.add(new String[] {what, measure, value});
    System.err.println(what + " | " + measure + " | " + value);
  }

  private void print() {
    System.out.printf("%n%-46s %-44s %s%n", "SCENARIO", "MEASURE", "VALUE");
    for (String[] r : rows) {
      System.out.printf("%-46s %-44s %s%n", r[0], r[1], r[2]);
    }
  }
}
