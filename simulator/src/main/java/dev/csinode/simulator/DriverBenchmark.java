package dev.csinode.simulator;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent bench-driver}: drives a running CSI driver through N whole volume lives, one at a time and
 * then a fixed number at a time, and prints lives per second and each RPC's latency within them; then, phase by
 * phase, N calls of each RPC in turn, with rate and the driver's CPU per RPC. Latency is measured on the client, from
 * send to response, over the real socket.
 */
@Command(name = "bench-driver", mixinStandardHelpOptions = true,
    description = "Benchmark a CSI driver's volume life cycle (create, stage, publish, unpublish, unstage, delete).")
public final class DriverBenchmark implements Callable<Integer> {
  private static final Duration DEADLINE = Duration.ofSeconds(120);
  private static final VolumeCapability CAP = VolumeCapability.newBuilder()
      .setMount(VolumeCapability.MountVolume.getDefaultInstance())
      .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();

  @Option(names = "--endpoint", required = true, description = "CSI endpoint of the driver under test.")
  String endpoint;

  @Option(names = "--work-dir", required = true, description = "Directory for staging and target paths.")
  Path workDir;

  @Option(names = "--volumes", defaultValue = "1000", description = "Volumes per run (default: ${DEFAULT-VALUE}).")
  int volumes;

  @Option(names = "--concurrency", defaultValue = "16", description = "Calls in flight in the concurrent run (default: ${DEFAULT-VALUE}).")
  int concurrency;

  @Option(names = "--kind", defaultValue = "directory", description = "Value of the 'kind' CreateVolume parameter (default: ${DEFAULT-VALUE}).")
  String kind;

  @Option(names = "--warmup", defaultValue = "1000",
      description = "Volume lives run first and not counted, so the driver's JIT has settled (default: ${DEFAULT-VALUE}; 0 for a cold driver).")
  int warmup;

  @Option(names = "--warmup-until-settled", defaultValue = "120", paramLabel = "SECONDS",
      description = "With --driver-pid: after --warmup, more volume lives in rounds of " + WARMUP_ROUND + " until the driver's JIT "
          + "compilers take under " + SETTLED_JIT_PERCENT + " % of its CPU over the last rounds of as many lives as the measured "
          + "runs (2 x --volumes), for at most this long "
          + "(default: ${DEFAULT-VALUE}; 0: --warmup only).")
  int warmupSeconds;

  @Option(names = "--mount-floor", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "Also time bind mount + unmount pairs in this process (needs root; default: ${DEFAULT-VALUE}).")
  boolean mountFloor;

  @Option(names = "--phases", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = "After the whole lives, also run every RPC's calls in turn (all creates, then all stages...), as earlier "
          + "versions measured: rate and driver CPU per RPC, with the mounts piled up (default: ${DEFAULT-VALUE}).")
  boolean phases;

  @Option(names = "--timeline", description = "Print when each warm-up round and each measured run began and ended (epoch ms), to cut the driver's logs (e.g. -Xlog:jit+compilation with the tm decoration) down to one.")
  boolean timeline;

  @Option(names = "--driver-pid", description = "The driver's process id: its CPU time per call is printed too (a figure other load on the machine hardly changes).")
  Long driverPid;

  private DriverAllocation allocation;
  private boolean allocationUnknown;

  private static final int WARMUP_ROUND = 500;
  private static final double SETTLED_JIT_PERCENT = 5;

  /** The issue's targets for the bundled driver (issue 16), printed beside the figures. */
  private static final double TARGET_SEQUENTIAL_LIVES = 1000;
  private static final double TARGET_CONCURRENT_LIVES = 2000;
  private static final double TARGET_P50_MS = 0.100;

  /** {@code cpuNanos}: the driver's CPU time during the phase (user and system), or -1 when unknown. */
  record Row(String rpc, String mode, int calls, double seconds, long[] nanos, long cpuNanos) {
    double rate() {
      return calls / seconds;
    }

    double percentileMs(double p) {
      long[] s = nanos.clone();
      Arrays.sort(s);
      int i = (int) Math.min(s.length - 1, Math.ceil(p / 100.0 * s.length) - 1);
      return s[Math.max(0, i)] / 1e6;
    }
  }

  @Override
  public Integer call() throws Exception {
    Vertx vertx = Vertx.vertx();
    Lives sequentialLives;
    Lives concurrentLives;
    List<Row> sequential = List.of();
    List<Row> concurrent = List.of();
    Row probe;
    long jit0;
    long jit1;
    long cpu0;
    long cpu1;
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, UnixEndpoint.parse(endpoint))) {
      // Attached before the warm-up: the management agent this starts in the driver is compiled with the rest.
      driverAllocatedBytes();
      if (warmup > 0) {
        warmUp(client);
      }
      sequentialLives = wholeLives(client, "sequential", 1, "lseq", volumes);
      concurrentLives = wholeLives(client, concurrency + " in flight", concurrency, "lpar", volumes);
      jit0 = driverJitMillis();
      cpu0 = driverCpuNanos();
      if (phases) {
        sequential = life(client, "sequential", 1, "seq", volumes);
      }
      // The sequential phases alone, as the CPU per life printed beside the JIT's share.
      jit1 = driverJitMillis();
      cpu1 = driverCpuNanos();
      if (phases) {
        concurrent = life(client, concurrency + " in flight", concurrency, "par", volumes);
      }
      // Last: a thousand calls of another RPC before the lives made the driver's JIT recompile the shared code in them.
      probe = run(client, "Probe", "sequential", 1, volumes, IdentityGrpcClient.Probe, i -> ProbeRequest.getDefaultInstance(), null);
    } finally {
      vertx.close().await();
      if (allocation != null) {
        allocation.close();
      }
    }
    System.out.printf("%nwhole volume lives, each RPC timed within them (the headline figures)%n");
    System.out.printf("%-20s %-14s %7s %9s %9s%n", "RPC", "mode", "calls", "p50 ms", "p99 ms");
    for (Lives l : List.of(sequentialLives, concurrentLives)) {
      for (int k = 0; k < LIFE.size(); k++) {
        Row r = l.row(k);
        System.out.printf("%-20s %-14s %7d %9.3f %9.3f%n", r.rpc(), r.mode(), r.calls(), r.percentileMs(50), r.percentileMs(99));
      }
    }
    double worstP50 = IntStream.range(0, LIFE.size()).mapToDouble(k -> sequentialLives.row(k).percentileMs(50)).max().orElse(0);
    System.out.printf("%n%-52s %10s %10s%n", "", "measured", "target");
    System.out.printf("%-52s %10.0f %10s%n", "volume lives/s, sequential", sequentialLives.rate(), ">= " + (int) TARGET_SEQUENTIAL_LIVES);
    System.out.printf("%-52s %10.0f %10s%n", "volume lives/s, " + concurrency + " in flight", concurrentLives.rate(), ">= " + (int) TARGET_CONCURRENT_LIVES);
    System.out.printf("%-52s %10.3f %10s%n", "slowest RPC's p50 ms, sequential", worstP50, "<= " + TARGET_P50_MS);
    if (driverPid != null) {
      printCpu("", sequentialLives.cpuNanos() / 1e3 / sequentialLives.lives(), sequentialLives.jitPercent());
      System.out.printf("%-52s %10.0f%n", "driver CPU us per volume life, " + concurrency + " in flight",
          concurrentLives.cpuNanos() / 1e3 / concurrentLives.lives());
      System.out.printf("%-52s %10s%n", "driver CPU in its JIT compilers, " + concurrency + " in flight %", percent(concurrentLives.jitPercent()));
      for (Lives l : List.of(sequentialLives, concurrentLives)) {
        System.out.printf("%-52s %10s%n", "driver heap KiB allocated per volume life, " + l.mode(),
            l.allocatedBytes() < 0 ? "-" : String.format("%.1f", l.allocatedBytes() / 1024.0 / l.lives()));
      }
    }
    if (phases) {
      // Every call of one RPC, then every call of the next: the mounts pile up (all volumes staged, then all also
      // published), and the driver's JIT recompiles the shared gRPC, Netty and protobuf code for each RPC in turn.
      System.out.printf("%nphase by phase: %d calls of one RPC, then the next (mounts pile up; the JIT recompiles between phases)%n", volumes);
      System.out.printf("%-20s %-14s %7s %10s %9s %9s %12s%n", "RPC", "mode", "calls", "calls/s", "p50 ms", "p99 ms", "driver CPU us");
      List<Row> rows = new ArrayList<>(sequential);
      rows.addAll(concurrent);
      for (Row r : rows) {
        System.out.printf("%-20s %-14s %7d %10.0f %9.3f %9.3f %12s%n", r.rpc(), r.mode(), r.calls(), r.rate(),
            r.percentileMs(50), r.percentileMs(99), r.cpuNanos() < 0 ? "-" : String.format("%.0f", r.cpuNanos() / 1e3 / r.calls()));
      }
      System.out.printf("%-52s %10.0f%n", "phase by phase: volume lives/s, sequential", lives(sequential));
      System.out.printf("%-52s %10.0f%n", "phase by phase: volume lives/s, " + concurrency + " in flight", lives(concurrent));
      System.out.printf("%-52s %10.3f%n", "phase by phase: slowest p50 ms, sequential",
          sequential.stream().mapToDouble(r -> r.percentileMs(50)).max().orElse(0));
      if (driverPid != null) {
        printCpu("phase by phase: ", sequential.stream().mapToDouble(r -> r.cpuNanos() / 1e3 / r.calls()).sum(),
            jitPercent(jit0, jit1, cpu0, cpu1));
      }
    }
    System.out.printf("%n%-52s %10s%n", "floor", "p50 ms");
    System.out.printf("%-52s %10.3f%n", "gRPC round trip (Probe, no work)", probe.percentileMs(50));
    if (mountFloor) {
      System.out.printf("%-52s %10.3f%n", "bind mount + unmount, in process", mountFloorMs());
    }
    return 0;
  }

  private static void printCpu(String label, double microsPerLife, double jitPercent) {
    System.out.printf("%-52s %10.0f%n", label + "driver CPU us per volume life, sequential", microsPerLife);
    if (jitPercent >= 0) {
      // The calls' own CPU: steadier between runs than the total, which has whatever the JIT still compiled.
      System.out.printf("%-52s %10.0f%n", label + "  the same without its JIT compilers", microsPerLife * (1 - jitPercent / 100));
    }
    // Well above a few %, the driver's JIT was still compiling while it was measured: the figures are of a warming
    // driver (a longer --warmup shows the settled one), and its compiler threads took a core from the calls.
    System.out.printf("%-52s %10s%n", label + "driver CPU in its JIT compilers, measured %", percent(jitPercent));
  }

  private static String percent(double p) {
    return p < 0 ? "-" : String.format("%.0f", p);
  }

  /** The JIT compiler threads' share of the driver's CPU between two readings, or -1 when unknown. */
  private static double jitPercent(long jit0, long jit1, long cpu0, long cpu1) {
    return jit0 >= 0 && jit1 >= jit0 && cpu0 >= 0 && cpu1 > cpu0 ? (jit1 - jit0) * 1e8 / (cpu1 - cpu0) : -1;
  }

  /** The RPCs of a volume's life, in their order. */
  private static final List<String> LIFE = List.of("CreateVolume", "NodeStageVolume", "NodePublishVolume",
      "NodeUnpublishVolume", "NodeUnstageVolume", "DeleteVolume");

  /**
   * Whole volume lives, {@code inFlight} of them at a time: {@code nanos[k][i]} is the time of the k-th RPC of life i,
   * {@code cpuNanos} the driver's CPU (or -1), {@code jitPercent} its compilers' share of it (or -1).
   */
  record Lives(String mode, int lives, double seconds, long[][] nanos, long cpuNanos, double jitPercent, long allocatedBytes) {
    double rate() {
      return lives / seconds;
    }

    Row row(int k) {
      return new Row(LIFE.get(k), mode, lives, seconds, nanos[k], -1);
    }
  }

  /**
   * Runs {@code lives} whole volume lives as the warm-up does, the calls in the order a kubelet makes them: what the
   * driver serves is the mix it was compiled for, so its JIT does not recompile in the middle of the figures.
   */
  private Lives wholeLives(GrpcUnixClient client, String mode, int inFlight, String prefix, int lives) throws Exception {
    long[][] nanos = new long[LIFE.size()][lives];
    Path base = podDirectories(prefix, lives);
    long alloc0 = driverAllocatedBytes();
    long jit0 = driverJitMillis();
    long cpu0 = driverCpuNanos();
    long start = System.nanoTime();
    long from = System.currentTimeMillis();
    runLives(client, base, prefix, lives, inFlight, nanos);
    double seconds = (System.nanoTime() - start) / 1e9;
    timeline(mode + " lives", from);
    long cpu1 = driverCpuNanos();
    long jit1 = driverJitMillis();
    long alloc1 = driverAllocatedBytes();
    return new Lives(mode, lives, seconds, nanos, cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0, jitPercent(jit0, jit1, cpu0, cpu1),
        alloc0 < 0 || alloc1 < 0 ? -1 : alloc1 - alloc0);
  }

  /** Lives per second: a life is one call of each RPC, so its time is the sum of the per-call times of the phases. */
  private static double lives(List<Row> phases) {
    return 1 / phases.stream().mapToDouble(r -> r.seconds() / r.calls()).sum();
  }

  /** What a bind mount and its unmount cost through mount-utils, the driver's own path, without any RPC around. */
  private double mountFloorMs() throws IOException {
    long[] nanos = MachineFigures.bindMountNanos(workDir.resolve("floor"), Math.max(100, volumes));
    return new Row("mount", "floor", nanos.length, 1, nanos, -1).percentileMs(50);
  }

  private List<Row> life(GrpcUnixClient client, String mode, int inFlight, String prefix, int volumes) throws Exception {
    String[] ids = new String[volumes];
    List<Row> rows = new ArrayList<>();
    Path base = podDirectories(prefix, volumes);
    rows.add(run(client, "CreateVolume", mode, inFlight, volumes, ControllerGrpcClient.CreateVolume, i -> create(prefix, i),
        (i, r) -> ids[i] = r.getVolume().getVolumeId()));
    rows.add(run(client, "NodeStageVolume", mode, inFlight, volumes, NodeGrpcClient.NodeStageVolume,
        i -> stage(ids[i], staging(base, i)), null));
    rows.add(run(client, "NodePublishVolume", mode, inFlight, volumes, NodeGrpcClient.NodePublishVolume,
        i -> publish(ids[i], staging(base, i), target(base, i)), null));
    rows.add(run(client, "NodeUnpublishVolume", mode, inFlight, volumes, NodeGrpcClient.NodeUnpublishVolume,
        i -> unpublish(ids[i], target(base, i)), null));
    rows.add(run(client, "NodeUnstageVolume", mode, inFlight, volumes, NodeGrpcClient.NodeUnstageVolume,
        i -> unstage(ids[i], staging(base, i)), null));
    rows.add(run(client, "DeleteVolume", mode, inFlight, volumes, ControllerGrpcClient.DeleteVolume, i -> delete(ids[i]), null));
    return rows;
  }

  /**
   * Runs {@code --warmup} volume lives, then, when the driver's process is known, rounds more until its JIT has settled:
   * on 2 cores a driver that is still compiling (C2 took 56-61 % of the driver's CPU after 3,000 and after 10,000 lives
   * run phase by phase) gives its compiler a core the calls need, and the figures are of its warm-up, not of it.
   */
  private void warmUp(GrpcUnixClient client) throws Exception {
    long start = System.nanoTime();
    int lives = warmLives(client, "warm", warmup);
    // The JIT's share is read over the last rounds together, as many lives as the measured runs have (sequential and
    // 16 in flight), not over the last round alone. The methods a life calls once each (the RPC handlers and their
    // lambdas, the requests' parsers) reach C2's thresholds together, at 9,200-11,400 calls (-XX:+LogCompilation):
    // between two such steps a round can be quiet. The last round's 3 % ended a warm-up at 10,200 lives, and C2
    // compiled 18 of those methods during the sequential lives measured after it (14 % of the driver's CPU there).
    int window = 2 * volumes;
    ArrayDeque<long[]> rounds = new ArrayDeque<>(); // {JIT ms, CPU ns, lives} of each round in the window
    int windowLives = 0;
    double jitPercent = -1;
    long bound = start + warmupSeconds * 1_000_000_000L;
    for (int round = 1; driverPid != null && System.nanoTime() < bound; round++) {
      long jit0 = driverJitMillis();
      long cpu0 = driverCpuNanos();
      int last = warmLives(client, "warm" + round, WARMUP_ROUND);
      lives += last;
      long jit1 = driverJitMillis();
      long cpu1 = driverCpuNanos();
      if (jit0 < 0 || jit1 < 0 || cpu0 < 0 || cpu1 <= cpu0) {
        break;
      }
      if (jit1 < jit0) { // a compiler thread ended in the round, its CPU time with it: no figure, start the window again
        rounds.clear();
        windowLives = 0;
        continue;
      }
      rounds.add(new long[] {jit1 - jit0, cpu1 - cpu0, last});
      windowLives += last;
      while (windowLives - rounds.peek()[2] >= window) {
        windowLives -= (int) rounds.remove()[2];
      }
      if (windowLives >= window) {
        jitPercent = rounds.stream().mapToLong(r -> r[0]).sum() * 1e8 / rounds.stream().mapToLong(r -> r[1]).sum();
        if (jitPercent < SETTLED_JIT_PERCENT) {
          break;
        }
      }
    }
    System.out.printf("warm-up: %d volume lives in %.1f s%s%n", lives, (System.nanoTime() - start) / 1e9,
        jitPercent < 0 ? "" : String.format(", the driver's JIT compilers %.0f %% of its CPU in the last %d%s", jitPercent,
            windowLives, jitPercent < SETTLED_JIT_PERCENT ? "" : " (not settled: figures of a driver still compiling)"));
  }

  /**
   * Volume lives run whole, one after the other, {@code concurrency} of them at a time: every RPC's code is compiled
   * with all the calls seen. Warming up phase by phase, as the measured runs went, compiled the shared gRPC, Netty and
   * protobuf code for one RPC at a time, and each next phase threw it away (the driver's JIT took 56-61 % of its CPU
   * during the measured phases even after 10,000 lives).
   */
  /** Returns how many lives it ran. */
  private int warmLives(GrpcUnixClient client, String prefix, int lives) throws Exception {
    long from = System.currentTimeMillis();
    runLives(client, podDirectories(prefix, lives), prefix, lives, concurrency, null);
    // And a fifth as many one at a time, as the sequential lives are measured: warmed with 16 in flight only, the
    // driver's JIT took 19-28 % of its CPU in the sequential lives (a lone call takes other paths through Netty and
    // the worker pool).
    int alone = Math.max(1, lives / 5);
    timeline("warm-up " + prefix + ", " + concurrency + " in flight", from);
    from = System.currentTimeMillis();
    runLives(client, podDirectories(prefix + "-1", alone), prefix + "-1", alone, 1, null);
    timeline("warm-up " + prefix + ", sequential", from);
    return lives + alone;
  }

  /** {@code lives} whole volume lives, {@code inFlight} at a time; each call's time into {@code nanos} unless null. */
  private void runLives(GrpcUnixClient client, Path base, String prefix, int lives, int inFlight, long[][] nanos) {
    AtomicInteger next = new AtomicInteger();
    List<Future<Void>> chains = new ArrayList<>();
    for (int k = 0; k < Math.max(1, Math.min(inFlight, lives)); k++) {
      Promise<Void> chain = Promise.promise();
      livesInTurn(client, base, prefix, next, lives, nanos, chain);
      chains.add(chain.future());
    }
    Future.all(chains).await();
  }

  /** Runs the next volume's life, and when it is over the one after, until {@code lives} have run or one fails. */
  private void livesInTurn(GrpcUnixClient client, Path base, String prefix, AtomicInteger next, int lives, long[][] nanos,
                           Promise<Void> chain) {
    int i = next.getAndIncrement();
    if (i >= lives) {
      chain.tryComplete();
      return;
    }
    String staging = staging(base, i);
    String target = target(base, i);
    Timer t = new Timer(client, nanos, i);
    t.call(0, ControllerGrpcClient.CreateVolume, create(prefix, i))
        .map(r -> r.getVolume().getVolumeId())
        .compose(id -> t.call(1, NodeGrpcClient.NodeStageVolume, stage(id, staging))
            .compose(r -> t.call(2, NodeGrpcClient.NodePublishVolume, publish(id, staging, target)))
            .compose(r -> t.call(3, NodeGrpcClient.NodeUnpublishVolume, unpublish(id, target)))
            .compose(r -> t.call(4, NodeGrpcClient.NodeUnstageVolume, unstage(id, staging)))
            .compose(r -> t.call(5, ControllerGrpcClient.DeleteVolume, delete(id))))
        .onSuccess(r -> livesInTurn(client, base, prefix, next, lives, nanos, chain))
        .onFailure(err -> chain.tryFail(new IllegalStateException("volume life #" + i + " (" + prefix + ") failed: "
            + err.getMessage(), err)));
  }

  /** The calls of life {@code life}, each timed from send to response into {@code nanos[k][life]} (unless null). */
  private record Timer(GrpcUnixClient client, long[][] nanos, int life) {
    <Req, Resp> Future<Resp> call(int k, ServiceMethod<Resp, Req> method, Req request) {
      if (nanos == null) {
        return client.call(method, request, DEADLINE);
      }
      long t0 = System.nanoTime();
      return client.call(method, request, DEADLINE).onSuccess(r -> nanos[k][life] = System.nanoTime() - t0);
    }
  }

  /** The directories of {@code volumes} pods' volumes under the work directory's {@code prefix}, as the kubelet makes them. */
  private Path podDirectories(String prefix, int volumes) throws IOException {
    Path base = workDir.resolve(prefix);
    for (int i = 0; i < volumes; i++) {
      Files.createDirectories(Path.of(target(base, i)).getParent());
    }
    return base;
  }

  // The requests of a volume's life, the same in the warm-up and the measured runs.

  private CreateVolumeRequest create(String prefix, int i) {
    return CreateVolumeRequest.newBuilder().setName(prefix + "-" + i).addVolumeCapabilities(CAP).putParameters("kind", kind)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(16L << 20)).build();
  }

  private static NodeStageVolumeRequest stage(String id, String staging) {
    return NodeStageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging).setVolumeCapability(CAP).build();
  }

  private static NodePublishVolumeRequest publish(String id, String staging, String target) {
    return NodePublishVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging).setTargetPath(target)
        .setVolumeCapability(CAP).build();
  }

  private static NodeUnpublishVolumeRequest unpublish(String id, String target) {
    return NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id).setTargetPath(target).build();
  }

  private static NodeUnstageVolumeRequest unstage(String id, String staging) {
    return NodeUnstageVolumeRequest.newBuilder().setVolumeId(id).setStagingTargetPath(staging).build();
  }

  private static DeleteVolumeRequest delete(String id) {
    return DeleteVolumeRequest.newBuilder().setVolumeId(id).build();
  }

  private static String staging(Path base, int i) {
    return base.resolve("plugins/kubernetes.io/csi/bench/" + i + "/globalmount").toString();
  }

  private static String target(Path base, int i) {
    return base.resolve("pods/p" + i + "/volumes/kubernetes.io~csi/v/mount").toString();
  }

  interface OnResult<Resp> {
    void accept(int index, Resp response);
  }

  /** Issues {@code volumes} calls keeping {@code inFlight} outstanding; any failure aborts the benchmark. */
  private <Req, Resp> Row run(GrpcUnixClient client, String rpc, String mode, int inFlight, int volumes,
                              ServiceMethod<Resp, Req> method, IntFunction<Req> request, OnResult<Resp> onResult) throws Exception {
    long[] nanos = new long[volumes];
    AtomicInteger next = new AtomicInteger();
    Promise<Void> done = Promise.promise();
    AtomicInteger finished = new AtomicInteger();
    long cpu0 = driverCpuNanos();
    long start = System.nanoTime();
    Runnable[] issue = new Runnable[1];
    issue[0] = () -> {
      int i = next.getAndIncrement();
      if (i >= volumes) {
        return;
      }
      long t0 = System.nanoTime();
      Future<Resp> f = client.call(method, request.apply(i), DEADLINE);
      f.onSuccess(r -> {
        nanos[i] = System.nanoTime() - t0;
        if (onResult != null) {
          onResult.accept(i, r);
        }
        if (finished.incrementAndGet() == volumes) {
          done.tryComplete();
        } else {
          issue[0].run();
        }
      }).onFailure(err -> done.tryFail(new IllegalStateException(rpc + " #" + i + " failed: " + err.getMessage(), err)));
    };
    for (int k = 0; k < Math.min(inFlight, volumes); k++) {
      issue[0].run();
    }
    done.future().await();
    double seconds = (System.nanoTime() - start) / 1e9;
    long cpu1 = driverCpuNanos();
    return new Row(rpc, mode, volumes, seconds, nanos, cpu0 < 0 || cpu1 < 0 ? -1 : cpu1 - cpu0);
  }

  /**
   * Heap bytes the driver has allocated so far (all its threads), or -1 when unknown: steadier than its CPU time, which
   * other load on the machine changes. Attached to on first use.
   */
  private long driverAllocatedBytes() {
    if (driverPid == null || allocationUnknown) {
      return -1;
    }
    try {
      if (allocation == null) {
        allocation = DriverAllocation.attach(driverPid);
      }
      return allocation.allocatedBytes();
    } catch (IOException | RuntimeException e) {
      allocationUnknown = true; // not tried again: the figure is printed as "-", the others stand
      return -1;
    }
  }

  /** With --timeline: what ran from {@code from} until now, in epoch ms. */
  private void timeline(String what, long from) {
    if (timeline) {
      System.out.printf("timeline: %s from %d to %d (epoch ms)%n", what, from, System.currentTimeMillis());
    }
  }

  /** CPU time (ms) of the driver's JIT compiler threads, or -1. */
  private long driverJitMillis() {
    if (driverPid == null) {
      return -1;
    }
    try {
      return MachineFigures.compilerCpuMillis(Path.of("/proc/" + driverPid));
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** The driver's CPU time (user and system; in steps of 10 ms), or -1. */
  private long driverCpuNanos() {
    if (driverPid == null) {
      return -1;
    }
    try {
      return MachineFigures.cpuMillis(Path.of("/proc/" + driverPid + "/stat")) * 1_000_000L;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }
}
