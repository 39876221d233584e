package dev.csinode.cli;

import static dev.csinode.cli.TerminalText.text;

import dev.csinode.csi.v1.*;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.grpc.common.ServiceMethod;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent driver-demo}: starts the bundled driver under a root directory and takes one volume of each
 * kind through its whole life over the real socket (create, stage, publish, write, read back, unpublish,
 * unstage, delete), with the kubelet's paths. Then keeps serving until Ctrl-C unless {@code --exit}.
 * Run it through scripts/csi-node-agent, which puts it in a private mount namespace.
 */
@Command(name = "driver-demo", mixinStandardHelpOptions = true,
    description = "Start the bundled hostpath driver and show a volume's life through it, for each volume kind.")
public final class DriverDemoCommand implements Callable<Integer> {
  private static final Duration DEADLINE = Duration.ofSeconds(60);

  @Option(names = "--root-dir", paramLabel = "DIR",
      description = "Kubelet-style root directory (default: var/lib/kubelet in the checkout).")
  Path rootDir;

  @Option(names = "--exit", description = "Stop the driver and exit after the demo instead of serving until Ctrl-C.")
  boolean exit;

  @Override
  public Integer call() throws Exception {
    Path root = CheckoutPaths.resolve(rootDir, "var/lib/kubelet");
    String driverName = HostpathConfig.DEFAULT_DRIVER_NAME;
    UnixEndpoint endpoint = new UnixEndpoint(root.resolve("plugins").resolve(driverName).resolve("csi.sock"));
    HostpathConfig config = new HostpathConfig(endpoint, "demo-node", root.resolve("plugins").resolve(driverName).resolve("state"),
        driverName, 0, 10L << 30, false);
    Vertx vertx = Vertx.vertx();
    HostpathDriver driver = HostpathDriver.start(vertx, config).await();
    System.out.println("driver " + driverName + " serving " + text(endpoint));
    try (GrpcUnixClient client = new GrpcUnixClient(vertx, endpoint)) {
      GetPluginInfoResponse info = call(client, IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance());
      System.out.println("GetPluginInfo: " + text(info.getName()) + " " + text(info.getVendorVersion()));
      for (String kind : List.of("directory", "filesystem", "block")) {
        lifeOf(client, root, kind);
      }
    } catch (Exception e) {
      System.err.println("demo failed: " + text(e.getMessage()));
      driver.stop().await();
      vertx.close().await();
      return 1;
    }
    if (exit) {
      driver.stop().await();
      vertx.close().await();
      return 0;
    }
    System.out.println("the driver keeps serving " + text(endpoint) + "; press Ctrl-C to stop");
    return Lifecycle.run(vertx, "demo", Future.succeededFuture(driver), HostpathDriver::stop, null);
  }

  private static void lifeOf(GrpcUnixClient client, Path root, String kind) throws Exception {
    boolean block = kind.equals("block");
    VolumeCapability cap = VolumeCapability.newBuilder()
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER))
        .mergeFrom(block ? VolumeCapability.newBuilder().setBlock(VolumeCapability.BlockVolume.getDefaultInstance()).build()
            : VolumeCapability.newBuilder().setMount(VolumeCapability.MountVolume.newBuilder().setFsType(kind.equals("filesystem") ? "ext4" : "")).build())
        .build();
    String name = "demo-" + kind;
    String podUid = UUID.nameUUIDFromBytes(name.getBytes()).toString();
    System.out.println("\n== " + kind + " volume " + name);
    Volume vol = call(client, ControllerGrpcClient.CreateVolume, CreateVolumeRequest.newBuilder().setName(name)
        .addVolumeCapabilities(cap).putParameters("kind", block ? "filesystem" : kind)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(64L << 20)).build()).getVolume();
    System.out.println("CreateVolume      -> " + text(vol.getVolumeId()) + " (" + vol.getCapacityBytes() + " bytes)");
    String sha = sha256(vol.getVolumeId());
    Path staging = block
        ? root.resolve("plugins/kubernetes.io/csi/volumeDevices/staging").resolve(name)
        : root.resolve("plugins/kubernetes.io/csi").resolve(HostpathConfig.DEFAULT_DRIVER_NAME).resolve(sha).resolve("globalmount");
    Path target = block
        ? root.resolve("plugins/kubernetes.io/csi/volumeDevices/publish").resolve(name).resolve(podUid)
        : root.resolve("pods").resolve(podUid).resolve("volumes/kubernetes.io~csi").resolve(name).resolve("mount");
    Files.createDirectories(staging);
    Files.createDirectories(target.getParent());
    call(client, NodeGrpcClient.NodeStageVolume, NodeStageVolumeRequest.newBuilder().setVolumeId(vol.getVolumeId())
        .setStagingTargetPath(staging.toString()).setVolumeCapability(cap).putAllVolumeContext(vol.getVolumeContextMap()).build());
    System.out.println("NodeStageVolume   -> " + text(staging));
    call(client, NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder().setVolumeId(vol.getVolumeId())
        .setStagingTargetPath(staging.toString()).setTargetPath(target.toString()).setVolumeCapability(cap).build());
    System.out.println("NodePublishVolume -> " + text(target));
    byte[] payload = ("hello from the " + kind + " volume\n").getBytes();
    if (block) {
      try (var ch = FileChannel.open(target, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.wrap(payload), 0);
        ch.force(true);
        ByteBuffer back = ByteBuffer.allocate(payload.length);
        ch.read(back, 0);
        System.out.println("wrote and read back " + payload.length + " bytes at offset 0 of the block device: "
            + text(new String(back.array()).strip()));
      }
    } else {
      Files.write(target.resolve("hello.txt"), payload);
      System.out.println("wrote " + text(target.resolve("hello.txt")) + ": " + text(Files.readString(target.resolve("hello.txt")).strip()));
      NodeGetVolumeStatsResponse stats = call(client, NodeGrpcClient.NodeGetVolumeStats, NodeGetVolumeStatsRequest.newBuilder()
          .setVolumeId(vol.getVolumeId()).setVolumePath(target.toString()).build());
      System.out.println("NodeGetVolumeStats -> " + stats.getUsage(0).getUsed() + " of " + stats.getUsage(0).getTotal()
          + " bytes used; condition: " + text(stats.getVolumeCondition().getMessage()));
    }
    call(client, NodeGrpcClient.NodeUnpublishVolume, NodeUnpublishVolumeRequest.newBuilder().setVolumeId(vol.getVolumeId())
        .setTargetPath(target.toString()).build());
    System.out.println("NodeUnpublishVolume ok");
    call(client, NodeGrpcClient.NodeUnstageVolume, NodeUnstageVolumeRequest.newBuilder().setVolumeId(vol.getVolumeId())
        .setStagingTargetPath(staging.toString()).build());
    System.out.println("NodeUnstageVolume   ok");
    call(client, ControllerGrpcClient.DeleteVolume, DeleteVolumeRequest.newBuilder().setVolumeId(vol.getVolumeId()).build());
    System.out.println("DeleteVolume        ok");
  }

  private static <Req, Resp> Resp call(GrpcUnixClient client, ServiceMethod<Resp, Req> method, Req req) throws Exception {
    return client.call(method, req, DEADLINE).toCompletionStage().toCompletableFuture().get();
  }

  static String sha256(String s) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
        .digest(s.getBytes(StandardCharsets.UTF_8)));
  }
}
