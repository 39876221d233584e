package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.api.AgentApi;
import dev.csinode.agent.cache.ActualStateJournal;
import dev.csinode.agent.cache.ActualStateOfWorld;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.status.VolumeManagerStatus;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.cli.Main;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.mount.Mounter;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The agent, its bundled driver and a manifests directory, with real mounts in a private mount namespace. */
class VolumeManagerEndToEndTest extends AgentFixture {
  @Test
  void inlineVolumeIsPublishedAndRemovedWithItsPod() throws Exception {
    write("pod-inline.yaml", pod("inline", "11111111-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    eventually(() -> ready("default/inline"), () -> "" + pod("default/inline"));
    PodVolume v = pod("default/inline").orElseThrow().volumes().get(0);
    Path target = root.resolve("pods/11111111-aaaa-4bbb-8ccc-000000000001/volumes/kubernetes.io~csi/data/mount");
    assertEquals(target.toString(), v.hostPath());
    assertTrue(new Mounter().isMountPoint(target));
    assertTrue(Files.exists(target.getParent().resolve("vol_data.json")));
    assertTrue(Files.readString(target.getParent().resolve("vol_data.json")).contains("\"volumeLifecycleMode\":\"Ephemeral\""));
    Files.writeString(target.resolve("hello"), "inline");
    Files.delete(manifests.resolve("pod-inline.yaml"));
    eventually(() -> pod("default/inline").isEmpty() && agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    assertFalse(Files.exists(target), "the publish directory is removed once unmounted");
    assertTrue(MountTable.read().under(root.resolve("pods")).isEmpty());
    eventually(() -> !Files.exists(root.resolve("pods/11111111-aaaa-4bbb-8ccc-000000000001")),
        () -> "the pod directory is removed by the housekeeping pass: " + agent.status().orphanedPodDirectories());
  }

  @Test
  void aPodWithTheUidOfAnotherGetsAnErrorNeverItsVolumeAndItsOwnOnceTheUidIsFree() throws Exception {
    String uid = "11111111-aaaa-4bbb-8ccc-0000000000d1";
    String inline = """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """;
    inlinePodReady("first", uid);
    Path target = Path.of(pod("default/first").orElseThrow().volumes().get(0).hostPath());
    Files.writeString(target.resolve("mine"), "first");
    write("later.yaml", pod("later", uid, inline));
    eventually(() -> pod("default/later").map(p -> !p.errors().isEmpty()).orElse(false), () -> "" + pod("default/later"));
    PodStatus later = pod("default/later").orElseThrow();
    assertFalse(later.ready());
    assertEquals(List.of(), later.volumes(), "none of the first pod's volumes is the later pod's");
    assertTrue(later.errors().get(0).contains("default/first") && later.errors().get(0).contains(uid), later.errors().toString());

    // Deleting the later pod touches nothing of the first; a pod made ready afterwards shows the passes went by.
    Files.delete(manifests.resolve("later.yaml"));
    inlinePodReady("witness", "11111111-aaaa-4bbb-8ccc-0000000000d2");
    assertTrue(ready("default/first"));
    assertEquals("first", Files.readString(target.resolve("mine")));
    assertFalse(scrape().contains("NodeUnpublishVolume"), "nothing was unpublished");

    // The first pod goes: the uid is free, and the later pod gets a volume of its own, not the first one's data.
    write("later.yaml", pod("later", uid, inline));
    eventually(() -> pod("default/later").map(p -> !p.errors().isEmpty()).orElse(false), () -> "" + pod("default/later"));
    Files.delete(manifests.resolve("first.yaml"));
    eventually(() -> ready("default/later"), () -> "" + pod("default/later") + " " + agent.volumeManager().volumes());
    assertEquals(target.toString(), pod("default/later").orElseThrow().volumes().get(0).hostPath());
    assertFalse(Files.exists(target.resolve("mine")), "the first pod's inline volume went with it");
  }

  @Test
  void afterARestartAUidClaimedByTwoPodsStaysWithThePodThatHeldIt() throws Exception {
    String uid = "11111111-aaaa-4bbb-8ccc-0000000000e1";
    inlinePodReady("zz-first", uid);
    Path target = Path.of(pod("default/zz-first").orElseThrow().volumes().get(0).hostPath());
    Files.writeString(target.resolve("mine"), "first");
    Await.result(agent.stop()); // volumes stay mounted, as the kubelet leaves them
    // While the agent is down a pod with the same uid appears; first by key order, but not first seen.
    write("aa-later.yaml", pod("aa-later", uid, """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    agent = newAgent();
    Await.result(agent.start());
    eventually(() -> pod("default/aa-later").map(p -> !p.errors().isEmpty()).orElse(false), () -> "" + agent.volumeManager().pods());
    assertTrue(pod("default/aa-later").orElseThrow().errors().get(0).contains("default/zz-first"));
    eventually(() -> ready("default/zz-first"), () -> "" + pod("default/zz-first"));
    Await.result(agent.volumeManager().idle(Duration.ofSeconds(30)));
    assertEquals("first", Files.readString(target.resolve("mine")), "the first pod keeps its volume and data");
    assertFalse(scrape().contains("NodeUnpublishVolume"), "nothing was unpublished");
  }

  /**
   * An older version named the inline volume of uid "legacy-uid", volume "data" kubernetes.io/csi/legacy-uid-data
   * with handle csi-sha256("legacy-uiddata"); the driver knows the volume by that handle until it is torn down.
   */
  @Test
  void anInlineVolumeAnOlderVersionMadeKeepsItsHandleAndDataAcrossTheUpgrade() throws Exception {
    String uid = "legacy-uid";
    String legacyHandle = "csi-" + KubeletLayout.sha256(uid + "data");
    Path target = root.resolve("pods/legacy-uid/volumes/kubernetes.io~csi/data/mount");
    Await.result(agent.stop()); // the older version's agent is not running; its driver is, with the same state
    Path driverDir = root.resolve("plugins/hostpath.csinode.dev");
    var driver = Await.result(HostpathDriver.start(vertx, new HostpathConfig(
        new UnixEndpoint(driverDir.resolve("csi.sock")), "node-e2e", driverDir.resolve("state"), DRIVER, 0, 100L << 30, false)));
    Files.createDirectories(target.getParent());
    try (var c = new GrpcUnixClient(vertx, new UnixEndpoint(driverDir.resolve("csi.sock")))) {
      Await.result(c.call(NodeGrpcClient.NodePublishVolume, NodePublishVolumeRequest.newBuilder()
          .setVolumeId(legacyHandle).setTargetPath(target.toString()).putVolumeContext("csi.storage.k8s.io/ephemeral", "true")
          .setVolumeCapability(VolumeCapability.newBuilder()
              .setMount(VolumeCapability.MountVolume.getDefaultInstance())
              .setAccessMode(VolumeCapability.AccessMode.newBuilder()
                  .setMode(VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER)))
          .build(), Duration.ofSeconds(30)));
    }
    Files.writeString(target.resolve("old"), "made before the upgrade");
    Await.result(driver.stop());
    var legacy = new VolumeSpec("kubernetes.io/csi/legacy-uid-data", DRIVER, legacyHandle, "data", true, false,
        "", List.of(), "ReadWriteOnce", Map.of(), null, null, false, true, "ReadWriteOnceWithFSType", null, null);
    try (var journal = new ActualStateJournal(root.resolve("csi-node-agent"),
        ActualStateJournal.currentBootId())) {
      journal.readAll();
      journal.append(new ActualStateJournal.Entry(journal.bootId(), legacy, false, Map.of(),
          ActualStateOfWorld.DeviceState.NOT_MOUNTED, null, List.of(new ActualStateOfWorld.MountedPod(
              uid, "default/legacy", ActualStateOfWorld.MountState.MOUNTED, target.toString())))).get();
    }
    write("legacy.yaml", pod("legacy", uid, """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    agent = newAgent();
    Await.result(agent.start());
    eventually(() -> ready("default/legacy"), () -> "" + pod("default/legacy"));
    assertEquals("kubernetes.io/csi/legacy-uid/data", pod("default/legacy").orElseThrow().volumes().get(0).uniqueName());
    // The publish mount goes; published again, it is the same volume: its handle, its data.
    new Mounter().unmountAll(target);
    eventually(() -> new Mounter().isMountPoint(target) && ready("default/legacy"), () -> "" + pod("default/legacy"));
    assertEquals("made before the upgrade", Files.readString(target.resolve("old")));
    Files.delete(manifests.resolve("legacy.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    assertEquals(0, driverVolumeCount(), "unpublished under its handle: the ephemeral volume is gone with its pod");
  }

  @Test
  void twoPodsSharingAClaimMeanOneStageTwoPublishesAndUnstageAfterBoth() throws Exception {
    String handle = volumeHandle("shared", "filesystem");
    write("pv.yaml", """
        apiVersion: v1
        kind: PersistentVolume
        metadata:
          name: pv-shared
        spec:
          capacity: {storage: 32Mi}
          accessModes: [ReadWriteOnce]
          claimRef: {namespace: default, name: shared}
          csi:
            driver: hostpath.csinode.dev
            volumeHandle: %s
            fsType: ext4
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: shared
          namespace: default
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 32Mi}}
          volumeName: pv-shared
        """.formatted(handle));
    String claim = """
        - name: data
          persistentVolumeClaim:
            claimName: shared
        """;
    write("pod-a.yaml", pod("a", "22222222-aaaa-4bbb-8ccc-00000000000a", claim));
    write("pod-b.yaml", pod("b", "22222222-aaaa-4bbb-8ccc-00000000000b", claim));
    eventually(() -> ready("default/a") && ready("default/b"), () -> agent.volumeManager().pods().toString());
    Path staging = root.resolve("plugins/kubernetes.io/csi/hostpath.csinode.dev")
        .resolve(KubeletLayout.sha256(handle)).resolve("globalmount");
    assertEquals(staging.toString(), pod("default/a").orElseThrow().volumes().get(0).stagingPath());
    assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(staging.toString())).count(), "one stage");
    Path ta = Path.of(pod("default/a").orElseThrow().volumes().get(0).hostPath());
    Path tb = Path.of(pod("default/b").orElseThrow().volumes().get(0).hostPath());
    assertEquals(root.resolve("pods/22222222-aaaa-4bbb-8ccc-00000000000a/volumes/kubernetes.io~csi/pv-shared/mount"), ta);
    Files.writeString(ta.resolve("from-a"), "hello b");
    assertEquals("hello b", Files.readString(tb.resolve("from-a")), "both pods see one volume");
    assertTrue(Files.readString(staging.getParent().resolve("vol_data.json")).contains(handle));

    String metrics = scrape();
    assertTrue(hasSample(metrics, "volume_manager_total_volumes", "plugin_name=\"kubernetes.io/csi:hostpath.csinode.dev\"",
        "state=\"actual_state_of_world\"", "} 1.0"), metrics);
    assertTrue(hasSample(metrics, "csi_operations_seconds_count", "method_name=\"/csi.v1.Node/NodeStageVolume\"",
        "grpc_status_code=\"OK\"", "driver_name=\"hostpath.csinode.dev\"", "} 1"), "exactly one NodeStageVolume:\n" + metrics);
    assertTrue(hasSample(metrics, "csi_operations_seconds_count", "method_name=\"/csi.v1.Node/NodePublishVolume\"", "} 2"), metrics);
    assertTrue(hasSample(metrics, "storage_operation_duration_seconds_count", "operation_name=\"volume_mount\"", "status=\"success\""), metrics);
    assertTrue(hasSample(metrics, "plugin_manager_total_plugins", "state=\"actual_state_of_world\""), metrics);

    Files.delete(manifests.resolve("pod-a.yaml"));
    eventually(() -> !new Mounter().isMountPoint(ta), () -> "pod a still mounted");
    assertTrue(new Mounter().isMountPoint(staging), "still staged while pod b uses it");
    assertTrue(ready("default/b"));
    Files.delete(manifests.resolve("pod-b.yaml"));
    eventually(() -> !new Mounter().isMountPoint(staging), () -> "still staged after both pods went");
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    assertTrue(MountTable.read().under(root.resolve("pods")).isEmpty());
    assertFalse(Files.exists(staging.getParent()), "staging directory and vol_data.json removed");
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(handle)), "loop device detached by the unstage");
  }

  @Test
  void badManifestsAreReportedAndTheOtherPodsStillRun() throws Exception {
    write("broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: [this is not: valid\n");
    write("pod-missing-claim.yaml", pod("missing", "33333333-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          persistentVolumeClaim:
            claimName: nowhere
        """));
    write("pod-evil.yaml", pod("evil", "../../etc", """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    write("pod-unknown-driver.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: nobody.example.com}
        spec: {attachRequired: false, volumeLifecycleModes: [Ephemeral]}
        ---
        """ + pod("unknown", "33333333-aaaa-4bbb-8ccc-000000000003", """
        - name: data
          csi:
            driver: nobody.example.com
        """));
    write("pod-no-csidriver.yaml", pod("nocsidriver", "33333333-aaaa-4bbb-8ccc-000000000005", """
        - name: data
          csi:
            driver: other.example.com
        """));
    write("pod-good.yaml", pod("good", "33333333-aaaa-4bbb-8ccc-000000000004", """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        - name: scratch
          emptyDir: {}
        """).replace("    - name: data\n      mountPath: /data\n", "    - name: data\n      mountPath: /data\n    - name: scratch\n      mountPath: /tmp\n"));
    eventually(() -> ready("default/good"), () -> agent.volumeManager().pods().toString());
    assertTrue(pod("default/good").orElseThrow().notHandled().get(0).contains("scratch (emptyDir"), "" + pod("default/good"));
    assertTrue(agent.volumeManager().objects().errors().stream().anyMatch(e -> e.contains("broken.yaml") && e.contains("not valid YAML")),
        "" + agent.volumeManager().objects().errors());
    assertTrue(pod("default/missing").orElseThrow().errors().get(0).contains("claimName default/nowhere does not exist"));
    assertTrue(pod("default/evil").orElseThrow().errors().get(0).contains("metadata.uid"));
    assertTrue(pod("default/nocsidriver").orElseThrow().errors().get(0).contains("lists Ephemeral in spec.volumeLifecycleModes"),
        "" + pod("default/nocsidriver"));
    assertFalse(Files.exists(root.resolve("etc")));
    eventually(() -> pod("default/unknown").map(p -> p.volumes().get(0).state().equals("failed")).orElse(false),
        () -> "" + pod("default/unknown"));
    assertTrue(pod("default/unknown").orElseThrow().volumes().get(0).lastError().contains("nobody.example.com is not registered"));
  }

  @Test
  void claimsAreProvisionedUsedAsFilesystemAndBlockAndDeletedWithTheirClaims() throws Exception {
    write("storage.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: fast}
        provisioner: hostpath.csinode.dev
        parameters: {kind: filesystem, csi.storage.k8s.io/fstype: ext4}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: fsclaim, namespace: default}
        spec:
          storageClassName: fast
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 40Mi}}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: rawclaim, namespace: default}
        spec:
          storageClassName: fast
          volumeMode: Block
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 16Mi}}
        """);
    write("pod-fs.yaml", pod("fs", "55555555-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          persistentVolumeClaim:
            claimName: fsclaim
        """));
    write("pod-raw.yaml", """
        apiVersion: v1
        kind: Pod
        metadata: {name: raw, namespace: default, uid: 55555555-aaaa-4bbb-8ccc-000000000002}
        spec:
          containers:
          - name: app
            image: busybox
            volumeDevices: [{name: dev, devicePath: /dev/xvda}]
          volumes:
          - name: dev
            persistentVolumeClaim: {claimName: rawclaim}
        """);
    write("pod-eph.yaml", pod("eph", "55555555-aaaa-4bbb-8ccc-000000000003", """
        - name: data
          ephemeral:
            volumeClaimTemplate:
              spec:
                storageClassName: fast
                accessModes: [ReadWriteOnce]
                resources: {requests: {storage: 20Mi}}
        """));
    eventually(() -> ready("default/fs") && ready("default/raw") && ready("default/eph"), () -> agent.volumeManager().pods().toString());
    assertEquals(3, driverVolumeCount());
    assertEquals(3, provisionedRecords().size(), "one PersistentVolume record per claim: " + provisionedRecords());

    Path fs = Path.of(pod("default/fs").orElseThrow().volumes().get(0).hostPath());
    assertEquals("ext4", MountTable.read().at(fs).orElseThrow().fsType());
    Files.writeString(fs.resolve("kept"), "data");

    Path raw = Path.of(pod("default/raw").orElseThrow().volumes().get(0).hostPath());
    assertTrue(raw.toString().contains("volumeDevices/publish/pvc-"), raw.toString());
    try (var ch = FileChannel.open(raw, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap("raw bytes".getBytes()), 0);
    }
    assertTrue(Files.isSymbolicLink(root.resolve("pods/55555555-aaaa-4bbb-8ccc-000000000002/volumeDevices/kubernetes.io~csi")
        .resolve(raw.getParent().getFileName())), "the pod's volumeDevices link to the block device file");

    // The pod goes: the generic ephemeral claim goes with it, and so does its volume.
    Files.delete(manifests.resolve("pod-eph.yaml"));
    eventually(() -> driverVolumeCount() == 2, () -> "ephemeral volume not deleted");
    // Pods go, then claims: volumes are torn down, then deleted (reclaimPolicy Delete).
    Files.delete(manifests.resolve("pod-fs.yaml"));
    Files.delete(manifests.resolve("pod-raw.yaml"));
    Files.delete(manifests.resolve("storage.yaml"));
    eventually(() -> driverVolumeCount() == 0, () -> "volumes not deleted: " + agent.volumeManager().volumes());
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    eventually(() -> provisionedRecords().isEmpty(), () -> "records of deleted volumes kept");
    assertTrue(MountTable.read().under(root.resolve("pods")).isEmpty());
    assertTrue(MountTable.read().under(root.resolve("plugins/kubernetes.io")).isEmpty());
  }

  /** Regression: a restart once deleted provisioned volumes because the driver registered before the manifests were read. */
  @Test
  void aRestartNeverDeletesProvisionedVolumes() throws Exception {
    write("claim.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: keep}
        provisioner: hostpath.csinode.dev
        parameters: {kind: directory}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: precious, namespace: default}
        spec:
          storageClassName: keep
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Mi}}
        """);
    write("pod.yaml", pod("user", "66666666-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          persistentVolumeClaim:
            claimName: precious
        """));
    eventually(() -> ready("default/user"), () -> agent.volumeManager().pods().toString());
    String handle = pod("default/user").orElseThrow().volumes().get(0).volumeHandle();
    Files.writeString(Path.of(pod("default/user").orElseThrow().volumes().get(0).hostPath()).resolve("precious.txt"), "keep me");

    // Drain and restart with the same manifests (what the demo does): same volume, same data.
    Await.result(agent.volumeManager().drain(Duration.ofSeconds(30)));
    try (var left = Files.list(root.resolve("pods"))) {
      assertEquals(List.of(), left.toList(), "a drain leaves no pod directory behind");
    }
    Await.result(agent.stop());
    agent = new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), manifests,
        VolumeManager.Options.defaults(), null, false));
    Await.result(agent.start());
    eventually(() -> ready("default/user"), () -> agent.volumeManager().pods().toString());
    assertEquals(handle, pod("default/user").orElseThrow().volumes().get(0).volumeHandle(), "the same volume, not a new one");
    assertEquals("keep me", Files.readString(Path.of(pod("default/user").orElseThrow().volumes().get(0).hostPath()).resolve("precious.txt")));

    // Drain and restart with an empty manifests directory: the claim was not seen in this run, so nothing is deleted.
    Await.result(agent.volumeManager().drain(Duration.ofSeconds(30)));
    Await.result(agent.stop());
    Path empty = Files.createDirectories(root.resolve("empty-manifests"));
    agent = new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), empty,
        VolumeManager.Options.defaults(), null, false));
    Await.result(agent.start());
    eventually(() -> agent.drivers().get(DRIVER).isPresent(), () -> "driver");
    Await.result(agent.volumeManager().idle(Duration.ofSeconds(30)));
    assertEquals(1, driverVolumeCount(), "the provisioned volume survives a restart without its claim");
    assertEquals(Set.of("pvc-" + UUID.nameUUIDFromBytes("claim/default/precious".getBytes())), provisionedRecords());
  }

  @Test
  void runtimesPushPodsThroughTheApiAndWaitForTheirVolumes() throws Exception {
    var applied = Await.result(agent.apply(pod("pushed", "77777777-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """)));
    assertEquals(List.of("Pod default/pushed"), applied.applied());
    var ready = (VolumeManagerStatus.PodStatus) Await.result(
        agent.waitReady("default", "pushed", Duration.ofSeconds(30)));
    Path hostPath = Path.of(ready.volumes().get(0).hostPath());
    assertTrue(new Mounter().isMountPoint(hostPath));

    // A pod that cannot get ready fails the wait at once with its reason, not after the timeout.
    Await.result(agent.apply(pod("broken", "77777777-aaaa-4bbb-8ccc-000000000002", """
        - name: data
          persistentVolumeClaim:
            claimName: nope
        """)));
    var e = assertThrows(AgentApi.ApiException.class,
        () -> Await.result(agent.waitReady("default", "broken", Duration.ofMinutes(5))));
    assertEquals(422, e.status());
    assertTrue(e.getMessage().contains("claimName default/nope does not exist"), e.getMessage());

    // The CLI, as a runtime would call it.
    var cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "pod", "wait", "default/pushed",
        "--timeout", "10s", "--root-dir", root.toString()));
    Path out = root.resolve("wait.json");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), Files.readString(out));
    assertTrue(Files.readString(out).contains(hostPath.toString()), Files.readString(out));

    // Pushed pods survive a restart of the agent: nothing is torn down or re-made.
    Await.result(agent.stop());
    agent = new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), manifests,
        VolumeManager.Options.defaults(), null, false));
    Await.result(agent.start());
    Await.result(agent.waitReady("default", "pushed", Duration.ofSeconds(30)));
    assertTrue(new Mounter().isMountPoint(hostPath));

    assertTrue(Await.result(agent.deletePod("default", "pushed")));
    assertFalse(Await.result(agent.deletePod("default", "pushed")), "a second delete finds nothing");
    eventually(() -> !new Mounter().isMountPoint(hostPath), () -> "still mounted after delete");
    Await.result(agent.deletePod("default", "broken"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());

    // A claim to provision, pushed with its pod: the wait does not fail while the claim is provisioned.
    Await.result(agent.apply("""
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: pushed-class}
        provisioner: hostpath.csinode.dev
        parameters: {kind: directory}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: pushed-claim, namespace: default}
        spec: {storageClassName: pushed-class, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        ---
        """ + pod("claimer", "77777777-aaaa-4bbb-8ccc-000000000003", claimVolume("pushed-claim"))));
    Await.result(agent.waitReady("default", "claimer", Duration.ofSeconds(30)));
    assertEquals(1, driverVolumeCount());
    // Deleting the pod and then the claim (any pushed object, DELETE /v1/objects/<Kind>/<ns>/<name>) deletes the volume.
    assertTrue(Await.result(agent.deletePod("default", "claimer")));
    assertTrue(Await.result(agent.deleteObject("PersistentVolumeClaim", "default", "pushed-claim")));
    assertFalse(Await.result(agent.deleteObject("PersistentVolumeClaim", "default", "pushed-claim")));
    eventually(() -> driverVolumeCount() == 0, () -> "the provisioned volume is deleted with its claim");
  }

  @Test
  void maxVolumesPerNodeIsEnforcedAndTheWaitingPodIsTold() throws Exception {
    // A second driver, allowing one volume on this node, registered through its own registration socket.
    var cfg = new HostpathConfig(new UnixEndpoint(root.resolve("plugins/limited.example.com/csi.sock")),
        "node-e2e", root.resolve("plugins/limited.example.com/state"), "limited.example.com", 1, 1L << 30, false);
    var limitedDriver = Await.result(HostpathDriver.start(vertx, cfg));
    var registrar = register(cfg.endpoint().path());
    try {
      eventually(() -> agent.drivers().get("limited.example.com").map(d -> d.maxVolumesPerNode() == 1).orElse(false), () -> "not registered");
      write("limited.yaml", """
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: limited.example.com}
          spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Ephemeral]}
          """);
      String inline = """
          - name: data
            csi:
              driver: limited.example.com
          """;
      write("pod-first.yaml", pod("first", "88888888-aaaa-4bbb-8ccc-000000000001", inline));
      eventually(() -> ready("default/first"), () -> "" + pod("default/first"));
      write("pod-second.yaml", pod("second", "88888888-aaaa-4bbb-8ccc-000000000002", inline));
      eventually(() -> pod("default/second").map(p -> p.volumes().get(0).lastError() != null).orElse(false), () -> "" + pod("default/second"));
      PodVolume waiting = pod("default/second").orElseThrow().volumes().get(0);
      assertTrue(waiting.lastError().contains("max_volumes_per_node") && waiting.lastError().contains("limited.example.com"), waiting.lastError());
      assertFalse(ready("default/second"));
      Await.result(agent.volumeManager().idle(Duration.ofSeconds(30)));
      assertTrue(hasSample(scrape(), "csi_operations_seconds_count", "driver_name=\"limited.example.com\"",
          "method_name=\"/csi.v1.Node/NodePublishVolume\"", "grpc_status_code=\"OK\"", "} 1"), "nothing attempted for the extra volume");
      assertFalse(scrape().contains("driver_name=\"limited.example.com\",grpc_status_code=\"ResourceExhausted\""));
      // The first pod goes: its slot frees and the second pod's volume proceeds.
      Files.delete(manifests.resolve("pod-first.yaml"));
      eventually(() -> ready("default/second"), () -> "" + pod("default/second"));
      Files.delete(manifests.resolve("pod-second.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    } finally {
      Await.result(registrar.stop());
      Await.result(limitedDriver.stop());
    }
  }

  @Test
  void aStageThatTimesOutIsUncertainNeverPublishedAndStillUnstagedWhenThePodGoes() throws Exception {
    withSlowStage(Duration.ofMillis(300), slow -> {
      eventually(() -> pod("default/slow").map(p -> p.volumes().get(0).state().equals("uncertain")
          && p.volumes().get(0).lastError() != null && p.volumes().get(0).lastError().contains("DEADLINE_EXCEEDED")).orElse(false),
          () -> "" + pod("default/slow"));
      assertTrue(slow.calls.stream().noneMatch(c -> c.startsWith("NodePublishVolume")), "no publish without a successful stage: " + slow.calls);
      assertFalse(ready("default/slow"));
      Files.delete(manifests.resolve("pod-slow.yaml"));
      eventually(() -> slow.calls.stream().anyMatch(c -> c.startsWith("NodeUnstageVolume slow-1")), () -> "not unstaged: " + slow.calls);
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
      assertTrue(slow.calls.stream().filter(c -> c.startsWith("NodeUnstageVolume")).allMatch(c -> c.endsWith("/globalmount")), "" + slow.calls);
    });
  }

  @Test
  void aStageStillRunningReadsAsInProgressNotUncertain() throws Exception {
    withSlowStage(Duration.ofMinutes(5), slow -> {
      eventually(() -> slow.calls.contains("NodeStageVolume slow-1"), () -> "not staged: " + slow.calls);
      eventually(() -> pod("default/slow").map(p -> !p.volumes().get(0).state().equals("pending")).orElse(false), () -> "" + pod("default/slow"));
      var volume = pod("default/slow").orElseThrow().volumes().get(0);
      assertEquals("in progress", volume.state(), "" + volume);
      assertNull(volume.lastError(), "" + volume);
      assertEquals("in progress", agent.volumeManager().volumes().get(0).state());
    });
  }

  private interface SlowStageCheck {
    void run(HangingStageDriver slow) throws Exception;
  }

  /** The agent with a driver whose NodeStageVolume never answers, and a pod with one claim of it. */
  private void withSlowStage(Duration csiTimeout, SlowStageCheck check) throws Exception {
    Await.result(agent.stop());
    agent = new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), manifests,
        new VolumeManager.Options(16, Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofMillis(200), csiTimeout),
        null, false));
    Await.result(agent.start());
    HangingStageDriver slow = new HangingStageDriver(vertx, root.resolve("plugins/slow.example.com/csi.sock"), "slow.example.com");
    var registrar = register(slow.server.path());
    try {
      eventually(() -> agent.drivers().get("slow.example.com").isPresent(), () -> "slow driver not registered");
      write("slow.yaml", """
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: slow.example.com}
          spec: {attachRequired: false}
          ---
          apiVersion: v1
          kind: PersistentVolume
          metadata: {name: pv-slow}
          spec:
            capacity: {storage: 1Gi}
            accessModes: [ReadWriteOnce]
            csi: {driver: slow.example.com, volumeHandle: slow-1}
          ---
          apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: slow, namespace: default}
          spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, volumeName: pv-slow}
          """);
      write("pod-slow.yaml", pod("slow", "99999999-aaaa-4bbb-8ccc-000000000001", """
          - name: data
            persistentVolumeClaim:
              claimName: slow
          """));
      check.run(slow);
    } finally {
      Await.result(registrar.stop());
      Await.result(slow.server.close());
    }
  }

  @Test
  void aDriverRestartedWhilePodsComeAndGoConverges() throws Exception {
    String name = "restarting.example.com";
    RunningDriver first = startDriver(name);
    write("restarting.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: restarting.example.com}
        spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Ephemeral]}
        """);
    String inline = """
        - name: data
          csi:
            driver: restarting.example.com
        """;
    for (int i = 1; i <= 3; i++) {
      write("pod-r" + i + ".yaml", pod("r" + i, "aaaaaaaa-aaaa-4bbb-8ccc-00000000000" + i, inline));
    }
    eventually(() -> ready("default/r1") && ready("default/r2") && ready("default/r3"), () -> agent.volumeManager().pods().toString());
    Path t1 = Path.of(pod("default/r1").orElseThrow().volumes().get(0).hostPath());
    Files.writeString(Path.of(pod("default/r2").orElseThrow().volumes().get(0).hostPath()).resolve("kept"), "r2");

    // The driver goes away; meanwhile pods come and go.
    first.stop();
    eventually(() -> agent.drivers().get(name).isEmpty(), () -> "still registered");
    write("pod-r4.yaml", pod("r4", "aaaaaaaa-aaaa-4bbb-8ccc-000000000004", inline));
    Files.delete(manifests.resolve("pod-r1.yaml"));
    eventually(() -> pod("default/r4").map(p -> p.volumes().get(0).lastError() != null
        && p.volumes().get(0).lastError().contains("not registered")).orElse(false), () -> "" + pod("default/r4"));
    assertTrue(new Mounter().isMountPoint(t1), "r1 cannot be unpublished while its driver is away; it stays mounted");

    // It comes back on the same state: everything converges.
    RunningDriver second = startDriver(name);
    try {
      eventually(() -> ready("default/r2") && ready("default/r3") && ready("default/r4") && !new Mounter().isMountPoint(t1),
          () -> agent.volumeManager().pods() + " / r1 mounted: " + new Mounter().isMountPoint(t1));
      assertEquals("r2", Files.readString(Path.of(pod("default/r2").orElseThrow().volumes().get(0).hostPath()).resolve("kept")));
      for (String p : new String[] {"r2", "r3", "r4"}) {
        Path t = Path.of(pod("default/" + p).orElseThrow().volumes().get(0).hostPath());
        assertEquals(1, MountTable.read().all().stream().filter(m -> m.mountPoint().equals(t.toString())).count(), "one mount at " + t);
      }
      for (String p : new String[] {"r2", "r3", "r4"}) {
        Files.delete(manifests.resolve("pod-" + p + ".yaml"));
      }
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    } finally {
      second.stop();
    }
  }

  @Test
  void aVanishedPublishMountIsRestored() throws Exception {
    write("pod-inline.yaml", pod("drift", "44444444-aaaa-4bbb-8ccc-000000000001", """
        - name: data
          csi:
            driver: hostpath.csinode.dev
        """));
    eventually(() -> ready("default/drift"), () -> "" + pod("default/drift"));
    Path target = Path.of(pod("default/drift").orElseThrow().volumes().get(0).hostPath());
    new Mounter().unmount(target);
    eventually(() -> new Mounter().isMountPoint(target) && ready("default/drift"), () -> "not restored: " + pod("default/drift"));
    Files.delete(manifests.resolve("pod-inline.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
  }
}
