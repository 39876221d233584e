package dev.csinode.hostpath;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.testing.Await;
import dev.csinode.testing.DiskFiller;
import dev.csinode.testing.PrivateMountNamespace;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A real driver on a real socket in a fresh directory under java.io.tmpdir (cna-test-*), and a client for it.
 * All calls go through gRPC. close() checks that the test left no mount and no loop device behind.
 */
final class DriverFixture implements AutoCloseable {
  static final String NODE = "node-1";
  final Path root;
  final Vertx vertx = Vertx.vertx();
  HostpathDriver driver;
  GrpcUnixClient client;
  private final boolean attachRequired;
  private final long maxVolumes;
  private final long capacity;
  /** A tmpfs this fixture mounted as the state dir (see {@link #withStateDisk}), or null. */
  private Path stateDisk;

  DriverFixture() throws IOException {
    this(false, 0, 8L << 30);
  }

  DriverFixture(boolean attachRequired, long maxVolumes, long capacity) throws IOException {
    this(attachRequired, maxVolumes, capacity, 0);
  }

  private DriverFixture(boolean attachRequired, long maxVolumes, long capacity, long stateDiskBytes) throws IOException {
    PrivateMountNamespace.require();
    this.root = Files.createTempDirectory("cna-test-");
    this.attachRequired = attachRequired;
    this.maxVolumes = maxVolumes;
    this.capacity = capacity;
    if (stateDiskBytes > 0) {
      stateDisk = Files.createDirectories(root.resolve("state"));
      new Mounter().mount("tmpfs", stateDisk, "tmpfs", List.of("size=" + stateDiskBytes), false);
    }
    start();
  }

  /** A driver whose state dir is a tmpfs of {@code bytes}, mounted in the test's namespace, so a test can fill it. */
  static DriverFixture withStateDisk(long bytes) throws IOException {
    return new DriverFixture(false, 0, 8L << 30, bytes);
  }

  /** Fills the state disk until writes fail with ENOSPC; returns the file that holds the space. */
  Path fillStateDisk() throws IOException {
    return DiskFiller.fill(stateDisk);
  }

  /** Every file and directory under the driver's data directories (volumes/, snapshots/). */
  List<String> dataEntries() throws IOException {
    List<String> out = new ArrayList<>();
    for (String dir : new String[] {"volumes", "snapshots"}) {
      try (var s = Files.list(root.resolve("state").resolve(dir))) {
        s.forEach(p -> out.add(dir + "/" + p.getFileName()));
      }
    }
    Collections.sort(out);
    return out;
  }

  HostpathConfig config() {
    return new HostpathConfig(new UnixEndpoint(root.resolve("plugins/hostpath/csi.sock")), NODE, root.resolve("state"),
        HostpathConfig.DEFAULT_DRIVER_NAME, maxVolumes, capacity, attachRequired);
  }

  void start() {
    driver = Await.result(HostpathDriver.start(vertx, config()));
    client = new GrpcUnixClient(vertx, config().endpoint());
  }

  /** Stops serving and starts a new driver instance on the same state dir, as after a crash or upgrade. */
  void restart() {
    client.close();
    Await.result(driver.stop());
    start();
  }

  <Req, Resp> Resp call(ServiceMethod<Resp, Req> method, Req req) {
    return Await.result(client.call(method, req, Duration.ofSeconds(60)));
  }

  <Req, Resp> GrpcStatus fails(ServiceMethod<Resp, Req> method, Req req) {
    return failure(method, req).status();
  }

  <Req, Resp> GrpcCallException failure(ServiceMethod<Resp, Req> method, Req req) {
    return Await.failure(client.call(method, req, Duration.ofSeconds(60)));
  }

  Path staging(String volumeId) {
    return root.resolve("plugins/kubernetes.io/csi/hostpath.csinode.dev").resolve(Integer.toHexString(volumeId.hashCode())).resolve("globalmount");
  }

  Path target(String pod, String volume) {
    return root.resolve("pods").resolve(pod).resolve("volumes/kubernetes.io~csi").resolve(volume).resolve("mount");
  }

  static VolumeCapability mountCap(VolumeCapability.AccessMode.Mode mode, String... flags) {
    return VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().addAllMountFlags(List.of(flags)))
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode)).build();
  }

  static VolumeCapability mountCap() {
    return mountCap(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER);
  }

  static VolumeCapability blockCap() {
    return VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)).build();
  }

  Volume create(String name, String kind, long bytes, VolumeCapability cap) {
    CreateVolumeRequest.Builder b = CreateVolumeRequest.newBuilder().setName(name).addVolumeCapabilities(cap)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes));
    if (kind != null) {
      b.putParameters("kind", kind);
    }
    return call(ControllerGrpcClient.CreateVolume, b.build()).getVolume();
  }

  void stage(String id, Path staging, VolumeCapability cap) {
    call(NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).build());
  }

  void publish(String id, Path staging, Path target, VolumeCapability cap, boolean readOnly) {
    call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(cap)
        .setReadonly(readOnly).build());
  }

  void unpublish(String id, Path target) {
    call(NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder().setVolumeId(id)
        .setTargetPath(target.toString()).build());
  }

  void unstage(String id, Path staging) {
    call(NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder().setVolumeId(id)
        .setStagingTargetPath(staging.toString()).build());
  }

  void delete(String id) {
    call(ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.newBuilder().setVolumeId(id).build());
  }

  static boolean mounted(Path p) {
    return MountTable.read().isMountPoint(p);
  }

  @Override
  public void close() throws Exception {
    client.close();
    Await.result(driver.stop());
    Await.result(vertx.close());
    var leftMounts = MountTable.read().under(root).stream()
        .filter(m -> stateDisk == null || !m.mountPoint().equals(stateDisk.toString())).toList();
    var leftLoops = LoopDevices.list().stream().filter(l -> l.contains(root.toString())).toList();
    for (int i = leftMounts.size() - 1; i >= 0; i--) {
      new Mounter().unmountAll(Path.of(leftMounts.get(i).mountPoint()));
    }
    for (String l : leftLoops) {
      new LoopDevices().detach(l.split(" ")[0]);
    }
    if (stateDisk != null) {
      new Mounter().unmountAll(stateDisk);
    }
    if (!leftMounts.isEmpty() || !leftLoops.isEmpty()) {
      throw new AssertionError("test left mounts " + leftMounts.stream().map(m -> m.mountPoint()).toList()
          + " and loop devices " + leftLoops + " behind (now cleaned up)");
    }
    Storage.deleteTree(root);
  }
}
