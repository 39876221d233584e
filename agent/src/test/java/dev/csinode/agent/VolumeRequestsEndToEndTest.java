package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.plugins.registrar.Registrar;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the agent sends drivers beyond paths: attachment, secrets, pod info, fsGroup; with real mounts. */
class VolumeRequestsEndToEndTest extends AgentFixture {

  @Test
  void aDriverThatNeedsAttachIsAttachedBeforeStagingAndDetachedAfterUnstaging() throws Exception {
    String driver = "attach.csinode.dev";
    RunningDriver d = startDriver(driver, true); // refuses NodeStage unless publish_context says it is attached here
    try {
      eventually(() -> agent.drivers().get(driver).isPresent(), () -> "" + agent.status().drivers());
      String handle = volumeHandle(driver, "attached", "directory");
      // No CSIDriver object: attachRequired defaults to true, as in Kubernetes.
      write("claim.yaml", boundClaim("attached", driver, handle, "", ""));
      write("pod.yaml", pod("user", "77777777-aaaa-4bbb-8ccc-000000000001", claimVolume("attached")));
      eventually(() -> ready("default/user"), () -> agent.volumeManager().pods().toString());
      assertTrue(agent.volumeManager().volumes().get(0).attached());
      Files.writeString(Path.of(pod("default/user").orElseThrow().volumes().get(0).hostPath()).resolve("f"), "x");
      String metrics = scrape();
      assertTrue(hasSample(metrics, "csi_operations_seconds_count", "method_name=\"/csi.v1.Controller/ControllerPublishVolume\"",
          "driver_name=\"attach.csinode.dev\"", "grpc_status_code=\"OK\"", "} 1"), metrics);

      Files.delete(manifests.resolve("pod.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
      metrics = scrape();
      assertTrue(hasSample(metrics, "csi_operations_seconds_count", "method_name=\"/csi.v1.Controller/ControllerUnpublishVolume\"",
          "driver_name=\"attach.csinode.dev\"", "grpc_status_code=\"OK\"", "} 1"), metrics);
      assertTrue(hasSample(metrics, "csi_operations_seconds_count", "method_name=\"/csi.v1.Node/NodeUnstageVolume\"",
          "driver_name=\"attach.csinode.dev\"", "grpc_status_code=\"OK\"", "} 1"), metrics);
    } finally {
      d.stop();
    }
  }

  @Test
  void withoutACsiDriverObjectADriverWithoutControllerPublishCountsAsAttachedWithoutACall() throws Exception {
    String driver = "nopublish.csinode.dev";
    Path dir = Files.createDirectories(root.resolve("plugins").resolve(driver));
    RecordingDriver d = RecordingDriver.withoutControllerPublish(vertx, dir.resolve("csi.sock"), driver,
        Files.createDirectories(root.resolve("nopublish-data")));
    Registrar r = register(dir.resolve("csi.sock"));
    try {
      eventually(() -> agent.drivers().get(driver).isPresent(), () -> "" + agent.status().drivers());
      // No CSIDriver object: attachRequired defaults to true, and the driver has no ControllerPublishVolume.
      write("claim.yaml", boundClaim("unpublished", driver, "vol-np", "", ""));
      write("pod.yaml", pod("thirdparty", "88888888-aaaa-4bbb-8ccc-000000000003", claimVolume("unpublished")));
      eventually(() -> ready("default/thirdparty"), () -> agent.volumeManager().pods().toString());
      assertTrue(agent.volumeManager().volumes().get(0).attached(), "recorded as attached, as the external attacher does");
      assertEquals(1, d.requests(dev.csinode.csi.v1.ControllerGetCapabilitiesRequest.class).size());
      assertEquals(1, d.requests(NodeStageVolumeRequest.class).size());

      Files.delete(manifests.resolve("pod.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
      assertEquals(1, d.requests(dev.csinode.csi.v1.NodeUnstageVolumeRequest.class).size());
      String metrics = scrape();
      assertFalse(metrics.contains("ControllerPublishVolume") || metrics.contains("ControllerUnpublishVolume"),
          "neither ControllerPublishVolume nor ControllerUnpublishVolume is called: " + metrics);
    } finally {
      Await.result(r.stop());
      Await.result(d.server.close());
    }
  }

  @Test
  void secretsPodInfoAndTheFsGroupReachADriverThatAppliesTheGroupItself() throws Exception {
    String driver = "recorder.csinode.dev";
    Path dir = Files.createDirectories(root.resolve("plugins").resolve(driver));
    RecordingDriver d = new RecordingDriver(vertx, dir.resolve("csi.sock"), driver, Files.createDirectories(root.resolve("recorder-data")));
    Registrar r = register(dir.resolve("csi.sock"));
    try {
      eventually(() -> agent.drivers().get(driver).isPresent(), () -> "" + agent.status().drivers());
      write("recorder.yaml", """
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: recorder.csinode.dev}
          spec: {attachRequired: false, podInfoOnMount: true}
          ---
          apiVersion: v1
          kind: Secret
          metadata: {name: stage-secret, namespace: default}
          data: {user: YWRtaW4=}
          ---
          apiVersion: v1
          kind: Secret
          metadata: {name: publish-secret, namespace: default}
          stringData: {token: s3cr3t}
          ---
          """ + boundClaim("recorded", driver, "vol-1", "ext4", """
          nodeStageSecretRef: {name: stage-secret, namespace: default}
          nodePublishSecretRef: {name: publish-secret, namespace: default}
          volumeAttributes: {tier: gold}
          """));
      write("pod.yaml", """
          apiVersion: v1
          kind: Pod
          metadata: {name: app, namespace: default, uid: 88888888-aaaa-4bbb-8ccc-000000000001}
          spec:
            serviceAccountName: runner
            securityContext: {fsGroup: 3000}
            containers:
            - name: app
              image: busybox
              volumeMounts: [{name: data, mountPath: /data}]
            volumes:
            - name: data
              persistentVolumeClaim: {claimName: recorded}
          """);
      eventually(() -> ready("default/app"), () -> agent.volumeManager().pods().toString());

      NodeStageVolumeRequest stage = d.requests(NodeStageVolumeRequest.class).get(0);
      assertEquals(Map.of("user", "admin"), stage.getSecretsMap(), "the stage secret, decoded from data");
      assertEquals("3000", stage.getVolumeCapability().getMount().getVolumeMountGroup());
      assertEquals("ext4", stage.getVolumeCapability().getMount().getFsType());
      assertEquals(Map.of("tier", "gold"), stage.getVolumeContextMap(), "no pod info on stage: it is not per pod");
      NodePublishVolumeRequest publish = d.requests(NodePublishVolumeRequest.class).get(0);
      assertEquals(Map.of("token", "s3cr3t"), publish.getSecretsMap(), "the publish secret, from stringData");
      assertEquals("3000", publish.getVolumeCapability().getMount().getVolumeMountGroup());
      assertEquals(stage.getStagingTargetPath(), publish.getStagingTargetPath());
      assertEquals(Map.of("tier", "gold", "csi.storage.k8s.io/pod.name", "app", "csi.storage.k8s.io/pod.namespace", "default",
          "csi.storage.k8s.io/pod.uid", "88888888-aaaa-4bbb-8ccc-000000000001", "csi.storage.k8s.io/serviceAccount.name", "runner",
          "csi.storage.k8s.io/ephemeral", "false"), publish.getVolumeContextMap());
      assertEquals(0, (int) Files.getAttribute(Path.of(publish.getTargetPath()), "unix:gid"),
          "a driver with VOLUME_MOUNT_GROUP applies the group itself: the agent does not chown");
      String status = new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(agent.status());
      assertFalse(status.contains("s3cr3t") || status.contains("admin"), "secret values never reach the status");
    } finally {
      Await.result(r.stop());
      Await.result(d.server.close());
    }
  }

  @Test
  void aDriverWithoutStageUnstageIsPublishedWithoutNodeStage() throws Exception {
    String driver = "nostage.csinode.dev";
    Path dir = Files.createDirectories(root.resolve("plugins").resolve(driver));
    RecordingDriver d = new RecordingDriver(vertx, dir.resolve("csi.sock"), driver, Files.createDirectories(root.resolve("nostage-data")), false);
    Registrar r = register(dir.resolve("csi.sock"));
    try {
      eventually(() -> agent.drivers().get(driver).isPresent(), () -> "" + agent.status().drivers());
      write("nostage.yaml", """
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: nostage.csinode.dev}
          spec: {attachRequired: false}
          ---
          """ + boundClaim("unstaged", driver, "vol-u", "", ""));
      write("pod.yaml", pod("nostage", "88888888-aaaa-4bbb-8ccc-000000000002", claimVolume("unstaged")));
      eventually(() -> ready("default/nostage"), () -> agent.volumeManager().pods().toString());
      NodePublishVolumeRequest publish = d.requests(NodePublishVolumeRequest.class).get(0);
      assertEquals("", publish.getStagingTargetPath(), "no staging path for a driver that does not stage");
      Path staging = root.resolve("plugins/kubernetes.io/csi").resolve(driver).resolve(dev.csinode.agent.volume.KubeletLayout.sha256("vol-u"));
      assertTrue(Files.exists(staging.resolve("vol_data.json")), "the staging directory and vol_data.json are still kept, as the kubelet does");

      Files.delete(manifests.resolve("pod.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
      assertEquals(List.of(), d.requests(NodeStageVolumeRequest.class), "never staged");
      assertEquals(List.of(), d.requests(dev.csinode.csi.v1.NodeUnstageVolumeRequest.class), "never unstaged");
      assertEquals(1, d.requests(dev.csinode.csi.v1.NodeUnpublishVolumeRequest.class).size());
      assertFalse(Files.exists(staging), "its directory is removed with the volume");
    } finally {
      Await.result(r.stop());
      Await.result(d.server.close());
    }
  }

  @Test
  void theAgentAppliesTheFsGroupWhenTheDriverCannotAndThePolicyAsksForIt() throws Exception {
    String withFsType = volumeHandle("owned", "filesystem");
    String withoutFsType = volumeHandle("plain", "directory");
    write("claims.yaml", boundClaim("owned", DRIVER, withFsType, "ext4", "") + "---\n" + boundClaim("plain", DRIVER, withoutFsType, "", ""));
    // A first pod, without fsGroup, leaves a file owned by root:root, mode 0644.
    write("writer.yaml", pod("writer", "99999999-aaaa-4bbb-8ccc-000000000001", claimVolume("owned")));
    eventually(() -> ready("default/writer"), () -> agent.volumeManager().pods().toString());
    Path written = Path.of(pod("default/writer").orElseThrow().volumes().get(0).hostPath()).resolve("old-file");
    Files.writeString(written, "x");
    Files.setPosixFilePermissions(written, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
    Files.delete(manifests.resolve("writer.yaml"));
    eventually(() -> pod("default/writer").isEmpty() && agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());

    write("grouped.yaml", """
        apiVersion: v1
        kind: Pod
        metadata: {name: grouped, namespace: default, uid: 99999999-aaaa-4bbb-8ccc-000000000002}
        spec:
          securityContext: {fsGroup: 2345}
          containers:
          - name: app
            image: busybox
            volumeMounts: [{name: owned, mountPath: /owned}, {name: plain, mountPath: /plain}]
          volumes:
          - name: owned
            persistentVolumeClaim: {claimName: owned}
          - name: plain
            persistentVolumeClaim: {claimName: plain}
        """);
    eventually(() -> ready("default/grouped"), () -> agent.volumeManager().pods().toString());
    var vols = pod("default/grouped").orElseThrow().volumes();
    Path owned = Path.of(vols.stream().filter(v -> v.name().equals("owned")).findFirst().orElseThrow().hostPath());
    Path plain = Path.of(vols.stream().filter(v -> v.name().equals("plain")).findFirst().orElseThrow().hostPath());
    // ReadWriteOnceWithFSType (no fsGroupPolicy in the CSIDriver object): fsType ext4 and ReadWriteOnce, so the group is set.
    assertEquals(2345, (int) Files.getAttribute(owned, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    assertEquals(02000, (int) Files.getAttribute(owned, "unix:mode") & 02000, "setgid on directories");
    assertEquals(2345, (int) Files.getAttribute(owned.resolve("old-file"), "unix:gid"));
    assertEquals(0664, (int) Files.getAttribute(owned.resolve("old-file"), "unix:mode") & 0777, "group read-write added");
    // No fsType: the default policy leaves the volume as it is.
    assertEquals(0, (int) Files.getAttribute(plain, "unix:gid", LinkOption.NOFOLLOW_LINKS));
  }

  @Test
  void claimsReportVolumeStatsUnderTheKubeletsMetricNames() throws Exception {
    String handle = volumeHandle("measured", "filesystem");
    write("claim.yaml", boundClaim("measured", DRIVER, handle, "ext4", ""));
    write("pod.yaml", pod("measured", "99999999-aaaa-4bbb-8ccc-0000000000f1", claimVolume("measured")));
    eventually(() -> ready("default/measured"), () -> agent.volumeManager().pods().toString());
    Files.write(Path.of(pod("default/measured").orElseThrow().volumes().get(0).hostPath()).resolve("four-mib"), new byte[4 << 20]);
    eventually(() -> used("measured") >= 4 << 20, () -> "used bytes not updated: " + agent.metrics().scrape().stream().toList());
    String metrics = scrape();
    String labels = "persistentvolumeclaim=\"measured\"";
    assertTrue(hasSample(metrics, "kubelet_volume_stats_capacity_bytes", "namespace=\"default\"", labels), metrics);
    long capacity = value(metrics, "kubelet_volume_stats_capacity_bytes", labels);
    assertTrue(capacity > 16 << 20 && capacity <= 32 << 20, "an ext4 filesystem of 32 MiB: " + capacity);
    assertTrue(value(metrics, "kubelet_volume_stats_available_bytes", labels) < capacity - (4 << 20));
    assertTrue(value(metrics, "kubelet_volume_stats_inodes_used", labels) >= 1);
    assertTrue(value(metrics, "kubelet_volume_stats_inodes", labels) > value(metrics, "kubelet_volume_stats_inodes_free", labels));

    Files.delete(manifests.resolve("pod.yaml"));
    eventually(() -> !scrapeQuietly().contains(labels), () -> "stats of an unpublished volume are dropped");
  }

  String scrapeQuietly() {
    try {
      return scrape();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  long used(String claim) {
    String m = scrapeQuietly();
    String labels = "persistentvolumeclaim=\"" + claim + "\"";
    return hasSample(m, "kubelet_volume_stats_used_bytes", labels) ? value(m, "kubelet_volume_stats_used_bytes", labels) : -1;
  }

  static long value(String metrics, String metric, String labels) {
    String line = metrics.lines().filter(l -> l.startsWith(metric + "{") && l.contains(labels)).findFirst().orElseThrow();
    return (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
  }
}
