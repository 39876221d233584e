package dev.csinode.simulator;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent bench-driver}: drives a running CSI driver through N volume lives, one call at a time
 * and then with a fixed number of calls in flight, and prints rate and latency per RPC. Latency is measured
 * on the client, from send to response, over the real socket.
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

  record Row(String rpc, String mode, int calls, double seconds, long[] nanos) {
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
    List<Row> rows = new ArrayList<>();
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, UnixEndpoint.parse(endpoint))) {
      rows.addAll(life(client, "sequential", 1, "seq"));
      rows.addAll(life(client, concurrency + " in flight", concurrency, "par"));
    } finally {
      vertx.close().await();
    }
    System.out.printf("%n%-20s %-14s %7s %10s %9s %9s%n", "RPC", "mode", "calls", "calls/s", "p50 ms", "p99 ms");
    for (Row r : rows) {
      System.out.printf("%-20s %-14s %7d %10.0f %9.3f %9.3f%n", r.rpc(), r.mode(), r.calls(), r.rate(),
          r.percentileMs(50), r.percentileMs(99));
    }
    return 0;
  }

  private List<Row> life(GrpcUnixClient client, String mode, int inFlight, String prefix) throws Exception {
    String[] ids = new String[volumes];
    List<Row> rows = new ArrayList<>();
    Path base = workDir.resolve(prefix);
    for (int i = 0; i < volumes; i++) {
      Files.createDirectories(base.resolve("pods/p" + i + "/volumes/kubernetes.io~csi/v"));
    }
    rows.add(run(client, "CreateVolume", mode, inFlight, ControllerGrpcClient.CreateVolume, i ->
        CreateVolumeRequest.newBuilder().setName(prefix + "-" + i).addVolumeCapabilities(CAP).putParameters("kind", kind)
            .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(16L << 20)).build(),
        (i, r) -> ids[i] = r.getVolume().getVolumeId()));
    rows.add(run(client, "NodeStageVolume", mode, inFlight, NodeGrpcClient.NodeStageVolume, i ->
        NodeStageVolumeRequest.newBuilder().setVolumeId(ids[i]).setStagingTargetPath(staging(base, i)).setVolumeCapability(CAP).build(), null));
    rows.add(run(client, "NodePublishVolume", mode, inFlight, NodeGrpcClient.NodePublishVolume, i ->
        NodePublishVolumeRequest.newBuilder().setVolumeId(ids[i]).setStagingTargetPath(staging(base, i))
            .setTargetPath(target(base, i)).setVolumeCapability(CAP).build(), null));
    rows.add(run(client, "NodeUnpublishVolume", mode, inFlight, NodeGrpcClient.NodeUnpublishVolume, i ->
        NodeUnpublishVolumeRequest.newBuilder().setVolumeId(ids[i]).setTargetPath(target(base, i)).build(), null));
    rows.add(run(client, "NodeUnstageVolume", mode, inFlight, NodeGrpcClient.NodeUnstageVolume, i ->
        NodeUnstageVolumeRequest.newBuilder().setVolumeId(ids[i]).setStagingTargetPath(staging(base, i)).build(), null));
    rows.add(run(client, "DeleteVolume", mode, inFlight, ControllerGrpcClient.DeleteVolume, i ->
        DeleteVolumeRequest.newBuilder().setVolumeId(ids[i]).build(), null));
    return rows;
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
  private <Req, Resp> Row run(GrpcUnixClient client, String rpc, String mode, int inFlight, ServiceMethod<Resp, Req> method,
                              IntFunction<Req> request, OnResult<Resp> onResult) throws Exception {
    long[] nanos = new long[volumes];
    AtomicInteger next = new AtomicInteger();
    Promise<Void> done = Promise.promise();
    AtomicInteger finished = new AtomicInteger();
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
    return new Row(rpc, mode, volumes, (System.nanoTime() - start) / 1e9, nanos);
  }
}
