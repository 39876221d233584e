package dev.csinode.plugins.csi;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * What the kubelet's CSI registration handler does once a plugin passed validation: talk CSI to the endpoint,
 * check that GetPluginInfo names the same driver, learn the node facts (NodeGetInfo, NodeGetCapabilities).
 */
public final class CsiPluginHandler {
  private final Vertx vertx;
  private final Duration timeout;

  public CsiPluginHandler(Vertx vertx, Duration timeout) {
    this.vertx = vertx;
    this.timeout = timeout;
  }

  public Future<RegisteredDriver> connect(String name, String endpoint, Path registrationSocket, String version) {
    GrpcUnixClient client = new GrpcUnixClient(vertx, UnixEndpoint.parse(endpoint));
    return client.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), timeout)
        .recover(err -> Future.failedFuture(new IllegalStateException("GetPluginInfo on " + endpoint + " failed: " + err.getMessage())))
        .compose(info -> {
          if (!info.getName().equals(name)) {
            return Future.failedFuture(new IllegalStateException("the registration socket announces driver '" + name
                + "' but GetPluginInfo on " + endpoint + " answers '" + info.getName()
                + "'; the registrar and the driver disagree, check the registrar's --csi-address"));
          }
          return client.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance(), timeout)
              .recover(err -> Future.failedFuture(new IllegalStateException("NodeGetInfo on " + endpoint + " failed: " + err.getMessage())));
        })
        .compose(nodeInfo -> {
          if (nodeInfo.getNodeId().isEmpty()) {
            return Future.failedFuture(new IllegalStateException("NodeGetInfo on " + endpoint + " returned an empty node_id"));
          }
          return client.call(NodeGrpcClient.NodeGetCapabilities, NodeGetCapabilitiesRequest.getDefaultInstance(), timeout)
              .recover(err -> Future.failedFuture(new IllegalStateException("NodeGetCapabilities on " + endpoint + " failed: " + err.getMessage())))
              .map(caps -> new RegisteredDriver(name, endpoint, registrationSocket, nodeInfo.getNodeId(),
                  nodeInfo.getAccessibleTopology().getSegmentsMap(), nodeInfo.getMaxVolumesPerNode(),
                  caps.getCapabilitiesList().stream().filter(NodeServiceCapability::hasRpc)
                      .map(c -> c.getRpc().getType().name()).toList(),
                  version, System.currentTimeMillis(), true));
        })
        .onComplete(ar -> client.close());
  }
}
