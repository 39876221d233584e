package dev.csinode.agent.populator;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.agent.populator.PodVolumeResolver.Failed;
import dev.csinode.agent.populator.PodVolumeResolver.NotHandled;
import dev.csinode.agent.populator.PodVolumeResolver.PodResolution;
import dev.csinode.agent.populator.PodVolumeResolver.Resolved;
import dev.csinode.agent.populator.PodVolumeResolver.VolumeResolution;
import dev.csinode.agent.populator.PodVolumeResolver.Waiting;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** One pod's volumes against the cluster objects: specs, per-volume errors and waits, without the other pods. */
@Tag("unit")
class PodVolumeResolverTest {
  static final String UID = "aaaaaaaa-0000-4000-8000-000000000001";
  static final String DRIVER = """
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: d.example.com}
      spec: {attachRequired: false, podInfoOnMount: true, fsGroupPolicy: File, volumeLifecycleModes: [Persistent, Ephemeral]}
      """;
  static final String SECRET = """
      apiVersion: v1
      kind: Secret
      metadata: {name: s, namespace: default}
      stringData: {k: v}
      """;

  static List<HasMetadata> parse(String... docs) {
    List<HasMetadata> out = new ArrayList<>();
    for (String d : docs) {
      ManifestParser.Result r = ManifestParser.parse(Path.of("test"), d);
      assertEquals(List.of(), r.errors());
      out.addAll(r.objects());
    }
    return out;
  }

  /** A pod in namespace {@code default} whose container mounts every volume (and uses {@code dev-*} ones as devices). */
  static String pod(String volumes) {
    return """
        apiVersion: v1
        kind: Pod
        metadata: {name: app, namespace: default, uid: %s}
        spec:
          serviceAccountName: sa
          securityContext: {fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch}
          containers:
          - name: c
            image: busybox
            volumeMounts: [{name: data, mountPath: /data}, {name: other, mountPath: /other}, {name: scratch, mountPath: /s}]
            volumeDevices: [{name: dev-raw, devicePath: /dev/xvda}]
          volumes:
        %s""".formatted(UID, volumes.indent(2));
  }

  static String claimAndPv(String claim, String pv, String accessModes, String extra) {
    return """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %1$s, namespace: default}
        spec: {volumeName: %2$s, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        ---
        apiVersion: v1
        kind: PersistentVolume
        metadata: {name: %2$s}
        spec:
          accessModes: %3$s
          capacity: {storage: 1Mi}
          mountOptions: [noatime]
          claimRef: {namespace: default, name: %1$s}
        %4$s
          csi: {driver: d.example.com, volumeHandle: h-%2$s, fsType: ext4, volumeAttributes: {a: b}, nodeStageSecretRef: {name: s, namespace: default}}
        """.formatted(claim, pv, accessModes, extra);
  }

  static PodResolution resolve(String podYaml, String... objects) {
    List<HasMetadata> all = parse(podYaml);
    all.addAll(parse(objects));
    ClusterObjects cluster = ClusterObjects.of(all, List.of());
    return PodVolumeResolver.resolve(cluster.pods().get("default/app"), cluster);
  }

  static VolumeResolution volume(PodResolution r, String name) {
    return r.volumes().stream().filter(v -> name.equals(v.volume())).findFirst().orElseThrow(() -> new AssertionError(name + " in " + r));
  }

  static String error(PodResolution r, String name) {
    return assertInstanceOf(Failed.class, volume(r, name)).error();
  }

  @Test
  void aClaimBoundToACsiVolumeGivesTheVolumesSpecAndThePodsUseOfIt() {
    PodResolution r = resolve(pod("- {name: data, persistentVolumeClaim: {claimName: claim, readOnly: true}}"),
        claimAndPv("claim", "pv-1", "[ReadOnlyMany, ReadWriteMany]", ""), SECRET, DRIVER);
    assertNull(r.podError());
    assertEquals(List.of(), r.errors());
    Resolved data = assertInstanceOf(Resolved.class, volume(r, "data"));
    assertEquals(new VolumeSpec("kubernetes.io/csi/d.example.com^h-pv-1", "d.example.com", "h-pv-1", "pv-1", false, false, "ext4",
        List.of("noatime"), "ReadOnlyMany", Map.of("a", "b"), new VolumeSpec.SecretRef("default", "s"), null, false, true, "File",
        "pv-1", "default/claim"), data.spec(), "the first of the PV's access modes, as the kubelet");
    assertEquals(new PodToMount(UID, "default/app", "default", "app", "sa", "data", true, 2000L, "OnRootMismatch"), data.mount());
  }

  @Test
  void anInlineVolumeIsReadWriteOnceAndItsSecretIsInThePodsNamespace() {
    PodResolution r = resolve(pod("- {name: data, csi: {driver: d.example.com, fsType: xfs, readOnly: true, "
        + "volumeAttributes: {size: 1Mi}, nodePublishSecretRef: {name: s}}}"), SECRET, DRIVER);
    Resolved data = assertInstanceOf(Resolved.class, volume(r, "data"));
    VolumeSpec spec = data.spec();
    assertTrue(spec.inline());
    assertEquals("kubernetes.io/csi/" + UID + "-data", spec.uniqueName());
    assertEquals("ReadWriteOnce", spec.accessMode());
    assertEquals(new VolumeSpec.SecretRef("default", "s"), spec.publishSecret());
    assertEquals(List.of(), spec.mountOptions());
    assertTrue(data.mount().readOnly());
  }

  /** Each volume's problem is its own: the error names the pod, the volume and the object's field, and the rest resolve. */
  @Test
  void oneVolumesProblemIsThatVolumesErrorAndTheOthersStillResolve() {
    PodResolution r = resolve(pod("""
        - {name: data, persistentVolumeClaim: {claimName: claim}}
        - {name: other, persistentVolumeClaim: {claimName: missing}}
        - {name: scratch, emptyDir: {}}
        - {name: unused, persistentVolumeClaim: {claimName: also-missing}}
        - {name: dev-raw, persistentVolumeClaim: {claimName: claim}}
        """), claimAndPv("claim", "pv-1", "[ReadWriteOnce]", ""), DRIVER);
    assertInstanceOf(Failed.class, volume(r, "data"));
    assertEquals("pod default/app volume data: PersistentVolume pv-1 spec.csi.nodeStageSecretRef names Secret default/s, "
        + "which does not exist", error(r, "data"));
    assertEquals("pod default/app volume other: persistentVolumeClaim.claimName default/missing does not exist", error(r, "other"));
    assertEquals(new NotHandled("scratch", "emptyDir"), volume(r, "scratch"));
    assertEquals(List.of("scratch (emptyDir: not handled by this agent)"), r.notHandled());
    assertTrue(r.volumes().stream().noneMatch(v -> "unused".equals(v.volume())), "no container uses it: " + r);
    assertTrue(error(r, "dev-raw").contains("PersistentVolume pv-1 has volumeMode Filesystem but the pod uses it in volumeDevices"),
        error(r, "dev-raw"));
    assertEquals(3, r.errors().size(), "" + r.errors());

    PodResolution withSecret = resolve(pod("""
        - {name: data, persistentVolumeClaim: {claimName: claim}}
        - {name: other, persistentVolumeClaim: {claimName: missing}}
        """), claimAndPv("claim", "pv-1", "[ReadWriteOnce]", ""), DRIVER, SECRET);
    assertInstanceOf(Resolved.class, volume(withSecret, "data"));
    assertEquals(1, withSecret.resolved().size());
    assertEquals(List.of(error(r, "other")), withSecret.errors());
  }

  /**
   * A mode no CSI mode stands for is the volume's error, not an UNKNOWN mode sent to the driver. Otherwise the node
   * side takes a PersistentVolume's modes as the kubelet does (the first; ReadWriteOnce for none), so a volume an
   * earlier version mounted with modes the API server would refuse is not torn down after an upgrade.
   */
  @Test
  void aPersistentVolumesAccessModesAreTakenAsTheKubeletTakesThem() {
    String p = pod("- {name: data, persistentVolumeClaim: {claimName: claim}}");
    assertEquals("pod default/app volume data: PersistentVolume pv-1 spec.accessModes[1] is 'ReadWriteSometimes'; expected one of "
        + "ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod",
        error(resolve(p, claimAndPv("claim", "pv-1", "[ReadWriteOnce, ReadWriteSometimes]", ""), SECRET), "data"));
    Resolved none = assertInstanceOf(Resolved.class, volume(resolve(p, claimAndPv("claim", "pv-1", "[]", ""), SECRET), "data"));
    assertEquals("ReadWriteOnce", none.spec().accessMode());
    Resolved podFirst = assertInstanceOf(Resolved.class,
        volume(resolve(p, claimAndPv("claim", "pv-1", "[ReadWriteOncePod, ReadWriteOnce]", ""), SECRET), "data"));
    assertEquals("ReadWriteOncePod", podFirst.spec().accessMode());
    Resolved once = assertInstanceOf(Resolved.class,
        volume(resolve(p, claimAndPv("claim", "pv-1", "[ReadWriteOncePod]", ""), SECRET), "data"));
    assertEquals("ReadWriteOncePod", once.spec().accessMode());
  }

  @Test
  void aClaimWithoutAVolumeWaitsWhileProvisionedAndFailsWithTheProvisionersReason() {
    List<HasMetadata> all = parse(pod("- {name: data, persistentVolumeClaim: {claimName: claim}}"), """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: claim, namespace: default}
        spec: {storageClassName: sc, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        """);
    ClusterObjects cluster = ClusterObjects.of(all, List.of());
    Pod pod = cluster.pods().get("default/app");
    assertEquals(new Waiting("data", "pod default/app volume data: claim default/claim is not bound to a PersistentVolume yet (provisioning)"),
        volume(PodVolumeResolver.resolve(pod, cluster), "data"));
    PodResolution retried = PodVolumeResolver.resolve(pod, cluster, Map.of(), Map.of("default/claim", "CreateVolume failed 2 times"));
    assertEquals(List.of("pod default/app volume data: claim default/claim is not bound to a PersistentVolume yet "
        + "(provisioning; CreateVolume failed 2 times)"), retried.waiting());
    assertEquals(List.of(), retried.errors());
    PodResolution refused = PodVolumeResolver.resolve(pod, cluster, Map.of("default/claim", "StorageClass sc does not exist"), Map.of());
    assertEquals(List.of("pod default/app volume data: claim default/claim is not bound to a PersistentVolume yet: StorageClass sc does not exist"),
        refused.errors());
    assertEquals(List.of(), refused.waiting());
  }

  @Test
  void inlineVolumesNeedADriverThatAllowsThem() {
    String inline = pod("- {name: data, csi: {driver: d.example.com}}");
    assertTrue(error(resolve(inline), "data").contains("need a CSIDriver object named d.example.com that lists Ephemeral"),
        "no CSIDriver: Persistent only");
    assertTrue(error(resolve(inline, DRIVER.replace("Persistent, Ephemeral", "Persistent")), "data").contains("lists Ephemeral"));
    assertEquals("pod default/app volume data: csi.driver is required", error(resolve(pod("- {name: data, csi: {fsType: ext4}}")), "data"));
  }

  @Test
  void aPodWithoutAUsableUidHasAPodErrorAndNoVolumes() {
    PodResolution r = resolve(pod("- {name: data, csi: {driver: d.example.com}}").replace(UID, "../x"), DRIVER);
    assertEquals("pod default/app: metadata.uid '../x' is missing or not usable as a directory name", r.podError());
    assertEquals(List.of(r.podError()), r.errors());
    assertEquals(List.of(), r.volumes());
  }

  @Test
  void aVolumeEntryWithoutANameIsAnErrorAtItsIndex() {
    PodResolution r = resolve(pod("""
        - {name: data, csi: {driver: d.example.com}}
        - {csi: {driver: d.example.com}}
        """), DRIVER);
    assertInstanceOf(Resolved.class, volume(r, "data"));
    assertEquals(List.of("pod default/app: spec.volumes[1] has no name"), r.errors());
  }
}
