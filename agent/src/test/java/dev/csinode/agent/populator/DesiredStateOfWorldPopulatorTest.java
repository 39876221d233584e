package dev.csinode.agent.populator;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import io.fabric8.kubernetes.api.model.HasMetadata;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The incremental populator gives what a full resolution gives, whatever changed between calls. */
class DesiredStateOfWorldPopulatorTest {
  static final String POD = """
      apiVersion: v1
      kind: Pod
      metadata: {name: app, namespace: default, uid: aaaaaaaa-0000-4000-8000-000000000001}
      spec:
        containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
        volumes: [{name: data, persistentVolumeClaim: {claimName: claim}}]
      """;
  static final String CLAIM = """
      apiVersion: v1
      kind: PersistentVolumeClaim
      metadata: {name: claim, namespace: default}
      spec: {volumeName: pv-1, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
      """;
  static final String PV = """
      apiVersion: v1
      kind: PersistentVolume
      metadata: {name: pv-1}
      spec:
        accessModes: [ReadWriteOnce]
        capacity: {storage: 1Mi}
        claimRef: {namespace: default, name: claim}
        csi: {driver: d.example.com, volumeHandle: h1, nodeStageSecretRef: {name: s, namespace: default}}
      """;
  static final String SECRET = """
      apiVersion: v1
      kind: Secret
      metadata: {name: s, namespace: default}
      stringData: {k: v}
      """;
  static final String DRIVER = """
      apiVersion: storage.k8s.io/v1
      kind: CSIDriver
      metadata: {name: d.example.com}
      spec: {attachRequired: false, podInfoOnMount: true}
      """;

  static List<HasMetadata> parse(String... docs) {
    List<HasMetadata> out = new ArrayList<>();
    for (String d : docs) {
      out.addAll(ManifestParser.parse(Path.of("test"), d).objects());
    }
    return out;
  }

  static ClusterObjects objects(List<HasMetadata> items) {
    return ClusterObjects.of(items, List.of());
  }

  static String errors(DesiredStateOfWorld dsw) {
    return String.join("; ", dsw.pods().get("default/app").errors());
  }

  @Test
  void aPodIsResolvedAgainWhenAnyObjectItDependsOnChanges() {
    DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
    List<HasMetadata> pod = parse(POD);
    List<HasMetadata> claim = parse(CLAIM);
    List<HasMetadata> pv = parse(PV);
    List<HasMetadata> secret = parse(SECRET);

    List<HasMetadata> step = new ArrayList<>(pod);
    assertTrue(errors(populator.build(objects(step), java.util.Map.of())).contains("claimName default/claim does not exist"));
    step.addAll(claim);
    assertTrue(errors(populator.build(objects(step), java.util.Map.of())).contains("PersistentVolume pv-1, which does not exist"));
    step.addAll(pv);
    assertTrue(errors(populator.build(objects(step), java.util.Map.of())).contains("names Secret default/s, which does not exist"));
    step.addAll(secret);
    DesiredStateOfWorld ready = populator.build(objects(step), java.util.Map.of());
    assertEquals("", errors(ready));
    assertEquals(1, ready.volumes().size());
    var spec = ready.volumes().values().iterator().next().spec();
    assertFalse(spec.podInfoOnMount(), "no CSIDriver object: Kubernetes defaults");
    assertTrue(spec.attachRequired());

    // Unchanged objects: the same resolution is kept, not made again.
    DesiredStateOfWorld again = populator.build(objects(step), java.util.Map.of());
    assertSame(spec, again.volumes().values().iterator().next().spec());

    // A CSIDriver object appears: the pod is resolved again with it.
    step.addAll(parse(DRIVER));
    var withDriver = populator.build(objects(step), java.util.Map.of()).volumes().values().iterator().next().spec();
    assertTrue(withDriver.podInfoOnMount());
    assertFalse(withDriver.attachRequired());
    assertEquals(DesiredStateOfWorldPopulator.populate(objects(step)).volumes().values().iterator().next().spec(), withDriver,
        "the same as a resolution from scratch");

    // The Secret goes again: the error comes back.
    step.removeAll(secret);
    assertTrue(errors(populator.build(objects(step), java.util.Map.of())).contains("names Secret default/s"));
  }

  @Test
  void aClaimBeingProvisionedIsWaitingAndItsProblemTextIsFollowed() {
    DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
    List<HasMetadata> step = parse(POD, """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: claim, namespace: default}
        spec: {storageClassName: sc, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        """);
    DesiredStateOfWorld provisioning = populator.build(objects(step), java.util.Map.of());
    assertEquals("", errors(provisioning));
    assertTrue(provisioning.pods().get("default/app").waiting().get(0).contains("(provisioning)"));
    DesiredStateOfWorld failed = populator.build(objects(step), java.util.Map.of("default/claim", "StorageClass sc does not exist"));
    assertTrue(errors(failed).contains("StorageClass sc does not exist"), errors(failed));
    assertTrue(failed.pods().get("default/app").waiting().isEmpty());
  }
}
