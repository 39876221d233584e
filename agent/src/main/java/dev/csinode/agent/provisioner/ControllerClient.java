package dev.csinode.agent.provisioner;

import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.DeleteVolumeRequest;
import dev.csinode.csi.v1.Volume;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.vertx.core.Future;

/** The two CSI controller calls provisioning makes; over gRPC in the agent, a test double in unit tests. */
public interface ControllerClient {
  Future<Volume> createVolume(RegisteredDriver driver, CreateVolumeRequest request);

  Future<Void> deleteVolume(RegisteredDriver driver, DeleteVolumeRequest request);

  /** Through the agent's CSI client (deadline, {@code csi_operations_seconds}). */
  static ControllerClient of(CsiNodeClient csi) {
    return new ControllerClient() {
      @Override
      public Future<Volume> createVolume(RegisteredDriver d, CreateVolumeRequest request) {
        return csi.call(d.name(), d.endpoint(), ControllerGrpcClient.CreateVolume, request).map(r -> r.getVolume());
      }

      @Override
      public Future<Void> deleteVolume(RegisteredDriver d, DeleteVolumeRequest request) {
        return csi.call(d.name(), d.endpoint(), ControllerGrpcClient.DeleteVolume, request).mapEmpty();
      }
    };
  }
}
