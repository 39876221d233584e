package dev.csinode.grpc;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.CreateVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class SecretRedactorTest {
  @Test
  void stripsEverySecretValueButKeepsKeysAndOtherFields() {
    NodeStageVolumeRequest req = NodeStageVolumeRequest.newBuilder().setVolumeId("vol-1")
        .setStagingTargetPath("/var/lib/kubelet/x").putSecrets("password", "hunter2").putSecrets("token", "abc123")
        .putVolumeContext("size", "1Gi").build();
    String log = SecretRedactor.toLogString(req);
    assertFalse(log.contains("hunter2"), log);
    assertFalse(log.contains("abc123"), log);
    assertTrue(log.contains("password"), log);
    assertTrue(log.contains("vol-1"), log);
    assertTrue(log.contains("1Gi"), log);
    assertTrue(log.contains(SecretRedactor.REDACTED), log);
  }

  @Test
  void coversEveryRequestWithSecrets() {
    String publish = SecretRedactor.toLogString(NodePublishVolumeRequest.newBuilder().putSecrets("k", "s3cr3t").build());
    String create = SecretRedactor.toLogString(CreateVolumeRequest.newBuilder().setName("n").putSecrets("k", "s3cr3t").build());
    assertFalse(publish.contains("s3cr3t"));
    assertFalse(create.contains("s3cr3t"));
  }
}
