package dev.csinode.agent.bench;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.ProbeRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.Mounter;
import dev.csinode.plugins.PluginManager;
import io.vertx.core.Vertx;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.BooleanSupplier;
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
  @Option(names = "--work-dir", required = true) Path work;
  @Option(names = "--pods", defaultValue = "1000") int pods;
  @Option(names = "--churn-rate", defaultValue = "100") int churnRate;
  @Option(names = "--churn-seconds", defaultValue = "30") int churnSeconds;

  private final List<String[]> rows = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Path root = work.resolve("root");
    Vertx vertx = Vertx.vertx();
    Agent first = start(vertx, root);
    Agent agent = first;
    agent.apply("""
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
        """).await();

    // 1. A batch of pods, one provisioned claim each, added at once.
    StringBuilder batch = new StringBuilder();
    for (int i = 0; i < pods; i++) {
      batch.append(claimAndPod("b" + i));
    }
    long t0 = System.nanoTime();
    agent.apply(batch.toString()).await();
    await(() -> readyCount(first, "b") == pods, Duration.ofMinutes(10));
    row(pods + " pods, 1 PVC each, added at once", "all published", ms(System.nanoTime() - t0));

    // 2. Idle cost with them mounted.
    long cpu0 = cpu();
    Thread.sleep(10_000);
    row("idle with " + pods + " volumes mounted, 10 s", "CPU", String.format("%.1f %% of one core", (cpu() - cpu0) / 1e7 / 10));
    row("idle with " + pods + " volumes mounted", "RSS", rss());

    // 3. Restart with everything mounted: rebuild from the journal and the host.
    agent.stop().await();
    vertx.close().await();
    vertx = Vertx.vertx();
    long r0 = System.nanoTime();
    agent = start(vertx, root);
    Agent restarted = agent;
    await(() -> readyCount(restarted, "b") == pods, Duration.ofMinutes(5));
    row("restart with " + pods + " volumes mounted", "all ready again", ms(System.nanoTime() - r0));
    row("restart with " + pods + " volumes mounted", "CSI calls to stage/publish", Long.toString(
        csiCalls(agent, "NodeStageVolume") + csiCalls(agent, "NodePublishVolume")));

    // 4. Teardown of the batch.
    long d0 = System.nanoTime();
    for (int i = 0; i < pods; i++) {
      agent.deletePod("default", "b" + i);
    }
    await(() -> restarted.volumeManager().volumes().isEmpty(), Duration.ofMinutes(10));
    row(pods + " pods deleted at once", "all unpublished and unstaged", ms(System.nanoTime() - d0));

    // 5. Churn: churnRate pods/s with an inline volume each, each living 5 s; ready latency per pod.
    List<Long> latencies = churn(agent);
    long[] l = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    row("churn " + churnRate + " pods/s for " + churnSeconds + " s (" + l.length + " pods)", "ready latency p50",
        ms(l[l.length / 2]));
    row("", "ready latency p99", ms(l[(int) Math.min(l.length - 1, Math.ceil(l.length * 0.99) - 1)]));

    // 6. Floors on this machine.
    row("floor", "bind mount + umount2 (syscalls)", floorMount(work));
    row("floor", "gRPC round trip over a UNIX socket (Probe)", floorGrpc(vertx, root));

    agent.volumeManager().drain(Duration.ofMinutes(5)).await();
    agent.stop().await();
    vertx.close().await();
    print();
    return 0;
  }

  private static Agent start(Vertx vertx, Path root) {
    Agent agent = new Agent(vertx, new Agent.Config(root, "bench-node", null, true, PluginManager.Options.defaults(), null,
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
    Map<String, Long> added = new HashMap<>();
    Map<String, Long> latency = new HashMap<>();
    long start = System.nanoTime();
    long periodNanos = 1_000_000_000L / churnRate;
    int n = 0;
    long end = start + churnSeconds * 1_000_000_000L;
    while (System.nanoTime() < end) {
      long due = start + n * periodNanos;
      while (System.nanoTime() < due) {
        observe(agent, added, latency);
        Thread.sleep(1); // the benchmark must not steal a core from the agent on a 2-core machine
      }
      String name = "c" + n;
      added.put(name, System.nanoTime());
      agent.apply("""
          apiVersion: v1
          kind: Pod
          metadata: {name: %s, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
            volumes: [{name: data, csi: {driver: hostpath.csinode.dev}}]
          """.formatted(name));
      if (n >= churnRate * 5) {
        agent.deletePod("default", "c" + (n - churnRate * 5));
      }
      n++;
    }
    long grace = System.nanoTime() + 10_000_000_000L;
    while (latency.size() < added.size() && System.nanoTime() < grace) {
      observe(agent, added, latency);
      Thread.sleep(1);
    }
    return new ArrayList<>(latency.values());
  }

  private static void observe(Agent agent, Map<String, Long> added, Map<String, Long> latency) {
    for (PodStatus p : agent.volumeManager().pods()) {
      String name = p.pod().substring(p.pod().indexOf('/') + 1);
      if (p.ready() && added.containsKey(name) && !latency.containsKey(name)) {
        latency.put(name, System.nanoTime() - added.get(name));
      }
    }
  }

  private static long readyCount(Agent agent, String prefix) {
    return agent.volumeManager().pods().stream().filter(p -> p.ready() && p.pod().startsWith("default/" + prefix)).count();
  }

  private static long csiCalls(Agent agent, String method) {
    return agent.metrics().scrape().stream().filter(s -> s.getMetadata().getName().equals("csi_operations_seconds"))
        .flatMap(s -> ((io.prometheus.metrics.model.snapshots.HistogramSnapshot) s).getDataPoints().stream())
        .filter(d -> d.getLabels().get("method_name").endsWith("/" + method)).mapToLong(d -> d.getCount()).sum();
  }

  private static String floorMount(Path work) throws Exception {
    Path src = Files.createDirectories(work.resolve("floor-src"));
    Path dst = Files.createDirectories(work.resolve("floor-dst"));
    Mounter m = new Mounter();
    long[] t = new long[2000];
    for (int i = 0; i < t.length; i++) {
      long s = System.nanoTime();
      m.bind(src, dst, false, List.of());
      m.unmount(dst);
      t[i] = System.nanoTime() - s;
    }
    Arrays.sort(t);
    return String.format("p50 %.1f us, p99 %.1f us", t[t.length / 2] / 1e3, t[(int) (t.length * 0.99)] / 1e3);
  }

  private static String floorGrpc(Vertx vertx, Path root) {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins/hostpath.csinode.dev/csi.sock")))) {
      long[] t = new long[5000];
      for (int i = 0; i < t.length; i++) {
        long s = System.nanoTime();
        c.call(IdentityGrpcClient.Probe, ProbeRequest.getDefaultInstance(), Duration.ofSeconds(5)).await();
        t[i] = System.nanoTime() - s;
      }
      Arrays.sort(t);
      return String.format("p50 %.1f us, p99 %.1f us (sequential, from a plain thread)", t[t.length / 2] / 1e3, t[(int) (t.length * 0.99)] / 1e3);
    }
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

  private static long cpu() {
    return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  private static String rss() throws Exception {
    return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS"))
        .map(l -> String.format("%.0f MiB (agent, driver and benchmark in one JVM)", Long.parseLong(l.replaceAll("\\D", "")) / 1024.0))
        .findFirst().orElse("?");
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
