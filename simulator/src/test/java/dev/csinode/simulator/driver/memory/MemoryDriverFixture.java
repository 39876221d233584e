package dev.csinode.simulator.driver.memory;

import dev.csinode.csi.v1.CapacityRange;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * An in-memory driver (or a broken test double built on it) served on a socket in a test's directory, a client for
 * it, and the requests a node sends, on the kubelet's paths below {@code <dir>/root}. No root needed.
 */
public final class MemoryDriverFixture implements AutoCloseable {
  public static final Duration DEADLINE = Duration.ofSeconds(10);
  public final Vertx vertx = Vertx.vertx();
  public final Path dir;
  public final Path root;
  public final SimulatedMounts mounts;
  public final UnixEndpoint endpoint;
  private BundledDriver.Running running;
  private GrpcUnixClient client;

  public MemoryDriverFixture(Path dir, SimulatedMounts mounts) {
    this.dir = dir;
    this.root = dir.resolve("root");
    this.mounts = mounts;
    this.endpoint = new UnixEndpoint(dir.resolve("csi.sock"));
  }

  public void start(BundledDriver driver) {
    running = await(driver.start(vertx, endpoint, "node-1", dir.resolve("state")));
    client = new GrpcUnixClient(vertx, endpoint);
  }

  public void stop() {
    client.close();
    await(running.stop());
    running = null;
  }

  public <Q, R> Future<R> call(ServiceMethod<R, Q> method, Q request) {
    return client.call(method, request, DEADLINE);
  }

  public <Q, R> Future<R> call(ServiceMethod<R, Q> method, Q request, Duration deadline) {
    return client.call(method, request, deadline);
  }

  public static <T> T await(Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IllegalStateException(e.getCause());
    } catch (InterruptedException | TimeoutException e) {
      throw new AssertionError("future did not complete within 60 s", e);
    }
  }

  /** The failure of a call that must fail. */
  public static GrpcCallException failure(Future<?> f) {
    try {
      Object r = await(f);
      throw new AssertionError("call was expected to fail but returned " + r);
    } catch (GrpcCallException e) {
      return e;
    }
  }

  public static VolumeCapability mountCapability() {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
  }

  public static VolumeCapability blockCapability() {
    return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
  }

  public Future<String> createVolume(String name, long bytes) {
    return call(ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes)).addVolumeCapabilities(mountCapability()).build())
        .map(r -> r.getVolume().getVolumeId());
  }

  public Path staging(String volumeId) {
    try {
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(volumeId.getBytes(StandardCharsets.UTF_8)));
      return root.resolve("plugins/kubernetes.io/csi/memory.csinode.dev").resolve(hash).resolve("globalmount");
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  public Path target(String podUid) {
    return root.resolve("pods").resolve(podUid).resolve("volumes/kubernetes.io~csi/pv/mount");
  }

  public Future<?> stage(String volumeId) {
    return call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(volumeId)
        .setStagingTargetPath(staging(volumeId).toString()).setVolumeCapability(mountCapability()).build());
  }

  public Future<?> unstage(String volumeId) {
    return call(NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder().setVolumeId(volumeId)
        .setStagingTargetPath(staging(volumeId).toString()).build());
  }

  public Future<?> publish(String volumeId, String podUid) {
    return call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(volumeId)
        .setStagingTargetPath(staging(volumeId).toString()).setTargetPath(target(podUid).toString())
        .setVolumeCapability(mountCapability()).build());
  }

  public Future<?> unpublish(String volumeId, String podUid) {
    return call(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder().setVolumeId(volumeId)
        .setTargetPath(target(podUid).toString()).build());
  }

  @Override
  public void close() {
    try {
      if (running != null) {
        stop();
      }
    } finally {
      await(vertx.close());
    }
  }
}
