package dev.csinode.agent.populator;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.cache.DesiredStateOfWorld;
import dev.csinode.agent.cache.DesiredStateOfWorld.PodVolumes;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The incremental populator gives what a full resolution gives, whatever changed between calls. */
@Tag("unit")
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
    assertTrue(errors(populator.build(objects(step), Map.of())).contains("claimName default/claim does not exist"));
    step.addAll(claim);
    assertTrue(errors(populator.build(objects(step), Map.of())).contains("PersistentVolume pv-1, which does not exist"));
    step.addAll(pv);
    assertTrue(errors(populator.build(objects(step), Map.of())).contains("names Secret default/s, which does not exist"));
    step.addAll(secret);
    DesiredStateOfWorld ready = populator.build(objects(step), Map.of());
    assertEquals("", errors(ready));
    assertEquals(1, ready.volumes().size());
    var spec = ready.volumes().values().iterator().next().spec();
    assertFalse(spec.podInfoOnMount(), "no CSIDriver object: Kubernetes defaults");
    assertTrue(spec.attachRequired());

    // Unchanged objects: the same resolution is kept, not made again.
    DesiredStateOfWorld again = populator.build(objects(step), Map.of());
    assertSame(spec, again.volumes().values().iterator().next().spec());

    // A CSIDriver object appears: the pod is resolved again with it.
    step.addAll(parse(DRIVER));
    var withDriver = populator.build(objects(step), Map.of()).volumes().values().iterator().next().spec();
    assertTrue(withDriver.podInfoOnMount());
    assertFalse(withDriver.attachRequired());
    assertEquals(DesiredStateOfWorldPopulator.populate(objects(step)).volumes().values().iterator().next().spec(), withDriver,
        "the same as a resolution from scratch");

    // The Secret goes again: the error comes back.
    step.removeAll(secret);
    assertTrue(errors(populator.build(objects(step), Map.of())).contains("names Secret default/s"));
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
    DesiredStateOfWorld provisioning = populator.build(objects(step), Map.of());
    assertEquals("", errors(provisioning));
    assertTrue(provisioning.pods().get("default/app").waiting().get(0).contains("(provisioning)"));
    DesiredStateOfWorld failed = populator.build(objects(step), Map.of("default/claim", "StorageClass sc does not exist"));
    assertTrue(errors(failed).contains("StorageClass sc does not exist"), errors(failed));
    assertTrue(failed.pods().get("default/app").waiting().isEmpty());
  }

  static HasMetadata inlinePod(String name, String uid) {
    return parse("""
        apiVersion: v1
        kind: Pod
        metadata: {name: %s, namespace: default, uid: %s}
        spec:
          containers: [{name: c, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
          volumes: [{name: data, csi: {driver: d.example.com}}]
        """.formatted(name, uid), DRIVER.replace("podInfoOnMount: true", "volumeLifecycleModes: [Ephemeral]")).get(0);
  }

  @Test
  void aPodWithTheUidOfAnotherWaitsWithAnErrorUntilThatOneIsGone() {
    DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
    HasMetadata driver = parse(DRIVER.replace("podInfoOnMount: true", "volumeLifecycleModes: [Ephemeral]")).get(0);
    HasMetadata first = inlinePod("zz-first", "same-uid");
    HasMetadata later = inlinePod("aa-later", "same-uid");
    DesiredStateOfWorld one = populator.build(objects(List.of(driver, first)), Map.of());
    assertEquals(1, one.volumes().size());
    // The later pod sorts first by name: first seen decides, not the key.
    DesiredStateOfWorld both = populator.build(objects(List.of(driver, first, later)), Map.of());
    assertEquals(one.volumes(), both.volumes(), "the first pod's volumes are unaffected");
    assertEquals(List.of(), both.pods().get("default/zz-first").errors());
    var waiting = both.pods().get("default/aa-later");
    assertEquals(List.of(), waiting.uniqueNames(), "no volume of the later pod is set up");
    assertTrue(waiting.errors().get(0).contains("default/aa-later") && waiting.errors().get(0).contains("default/zz-first")
        && waiting.errors().get(0).contains("same-uid"), waiting.errors().toString());
    assertEquals(Map.of("same-uid", "default/zz-first"), both.volumes().values().iterator().next().pods().entrySet().stream()
        .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().podKey())));

    // The later one goes: nothing changes for the first.
    assertEquals(one.volumes(), populator.build(objects(List.of(driver, first)), Map.of()).volumes());
    populator.build(objects(List.of(driver, first, later)), Map.of());
    // The first one goes: the uid is free, and the later pod gets it.
    DesiredStateOfWorld handed = populator.build(objects(List.of(driver, later)), Map.of());
    assertEquals(List.of(), handed.pods().get("default/aa-later").errors());
    assertEquals("default/aa-later", handed.volumes().values().iterator().next().pods().get("same-uid").podKey());
  }

  @Test
  void podsSeenTogetherWithOneUidAreOrderedByKeyOrByWhoHeldTheUidBeforeARestart() {
    HasMetadata driver = parse(DRIVER.replace("podInfoOnMount: true", "volumeLifecycleModes: [Ephemeral]")).get(0);
    List<HasMetadata> pods = List.of(driver, inlinePod("b", "same-uid"), inlinePod("a", "same-uid"));
    DesiredStateOfWorld fresh = new DesiredStateOfWorldPopulator().build(objects(pods), Map.of());
    assertEquals(List.of(), fresh.pods().get("default/a").errors());
    assertFalse(fresh.pods().get("default/b").errors().isEmpty());

    DesiredStateOfWorldPopulator restarted = new DesiredStateOfWorldPopulator();
    restarted.previousHolders(Map.of("same-uid", "default/b"));
    DesiredStateOfWorld after = restarted.build(objects(pods), Map.of());
    assertEquals(List.of(), after.pods().get("default/b").errors(), "b held the uid before the restart and keeps it");
    assertFalse(after.pods().get("default/a").errors().isEmpty());
  }

  static HasMetadata ephemeralPod(String name, String uid, String volume) {
    return parse("""
        apiVersion: v1
        kind: Pod
        metadata: {name: %1$s, namespace: default, uid: %2$s}
        spec:
          containers: [{name: c, image: busybox, volumeMounts: [{name: %3$s, mountPath: /data}]}]
          volumes: [{name: %3$s, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce]}}}}]
        """.formatted(name, uid, volume)).get(0);
  }

  static HasMetadata claimOwnedBy(String name, String ownerUid) {
    return parse("""
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata:
          name: %s
          namespace: default
          ownerReferences: [{apiVersion: v1, kind: Pod, name: x, uid: %s, controller: true}]
        spec: {volumeName: pv-1, accessModes: [ReadWriteOnce]}
        """.formatted(name, ownerUid)).get(0);
  }

  @Test
  void aGenericEphemeralVolumeUsesOnlyAClaimItsPodControls() {
    HasMetadata pv = parse(PV.replace("name: claim}", "name: a-b-c}").replace(", nodeStageSecretRef: {name: s, namespace: default}", "")).get(0);
    // Pod a-b with volume c and pod a with volume b-c both name the claim a-b-c; it was made for the first.
    HasMetadata owner = ephemeralPod("a-b", "uid-owner", "c");
    HasMetadata other = ephemeralPod("a", "uid-other", "b-c");
    DesiredStateOfWorld dsw = DesiredStateOfWorldPopulator.populate(objects(List.of(owner, other, pv, claimOwnedBy("a-b-c", "uid-owner"))));
    assertEquals(List.of(), dsw.pods().get("default/a-b").errors());
    assertEquals(1, dsw.pods().get("default/a-b").uniqueNames().size());
    String error = String.join("; ", dsw.pods().get("default/a").errors());
    assertTrue(error.contains("claim default/a-b-c was not created for pod default/a"), error);
    assertEquals(List.of(), dsw.pods().get("default/a").uniqueNames());

    // A claim of that name made by hand (no owner) is not used either.
    HasMetadata byHand = parse(CLAIM.replace("name: claim,", "name: a-b-c,")).get(0);
    DesiredStateOfWorld handMade = DesiredStateOfWorldPopulator.populate(objects(List.of(owner, pv, byHand)));
    assertTrue(String.join("; ", handMade.pods().get("default/a-b").errors()).contains("was not created for pod default/a-b"));
  }

  /** A volume the resolver refuses is the pod's error; the pod's other volumes are still desired. */
  @Test
  void aVolumesErrorLeavesThePodsOtherVolumesDesired() {
    List<HasMetadata> objects = parse(POD.replace("volumeMounts: [{name: data, mountPath: /data}]",
            "volumeMounts: [{name: data, mountPath: /data}, {name: scratch, mountPath: /s}, {name: inline, mountPath: /i}]")
        .replace("volumes: [{name: data, persistentVolumeClaim: {claimName: claim}}]",
            "volumes: [{name: data, persistentVolumeClaim: {claimName: claim}}, {name: scratch, emptyDir: {}}, "
                + "{name: inline, csi: {driver: d.example.com}}]"),
        CLAIM, PV.replace("accessModes: [ReadWriteOnce]", "accessModes: [ReadWriteOnce, ReadWriteSometimes]"), SECRET,
        DRIVER.replace("podInfoOnMount: true", "volumeLifecycleModes: [Ephemeral]"));
    DesiredStateOfWorld dsw = new DesiredStateOfWorldPopulator().build(objects(objects), Map.of());
    PodVolumes pod = dsw.pods().get("default/app");
    assertEquals(List.of("pod default/app volume data: PersistentVolume pv-1 spec.accessModes[1] is 'ReadWriteSometimes'; "
        + "expected one of ReadWriteOnce, ReadOnlyMany, ReadWriteMany, ReadWriteOncePod"), pod.errors());
    assertEquals(List.of("scratch (emptyDir: not handled by this agent)"), pod.notHandled());
    String inline = "kubernetes.io/csi/aaaaaaaa-0000-4000-8000-000000000001-inline";
    assertEquals(List.of(inline), pod.uniqueNames());
    assertEquals(Map.of(inline, "inline"), pod.podVolumeNames());
    assertEquals(Set.of(inline), dsw.volumes().keySet());
  }

  /** The spec of a volume has the kubelet's access mode: the first of its PersistentVolume's. */
  @Test
  void aVolumesAccessModeIsTheFirstOfItsPersistentVolumes() {
    DesiredStateOfWorld dsw = DesiredStateOfWorldPopulator.populate(objects(parse(POD, CLAIM,
        PV.replace("accessModes: [ReadWriteOnce]", "accessModes: [ReadWriteMany, ReadWriteOnce]"), SECRET)));
    assertEquals(List.of(), dsw.pods().get("default/app").errors());
    assertEquals("ReadWriteMany", dsw.volumes().get("kubernetes.io/csi/d.example.com^h1").spec().accessMode());
  }

  /** Two pods use one volume, one as a block device: the first in key order gives the spec, the other is refused. */
  @Test
  void aVolumeUsedAsABlockDeviceAndAsAFilesystemIsRefusedForThePodThatComesSecond() {
    String device = POD.replace("name: app,", "name: raw,").replace("000000000001", "000000000002")
        .replace("volumeMounts: [{name: data, mountPath: /data}]", "volumeDevices: [{name: data, devicePath: /dev/xvda}]");
    String blockPv = PV.replace("pv-1", "pv-2").replace("name: claim}", "name: claim-2}").replace("  capacity:", "  volumeMode: Block\n  capacity:");
    String blockClaim = CLAIM.replace("name: claim,", "name: claim-2,").replace("pv-1", "pv-2");
    DesiredStateOfWorld dsw = DesiredStateOfWorldPopulator.populate(objects(parse(POD, CLAIM, PV, SECRET,
        device.replace("claimName: claim}", "claimName: claim-2}"), blockClaim, blockPv)));
    String unique = "kubernetes.io/csi/d.example.com^h1";
    assertFalse(dsw.volumes().get(unique).spec().block(), "default/app comes first and mounts it");
    assertEquals(Set.of("aaaaaaaa-0000-4000-8000-000000000001"), dsw.volumes().get(unique).pods().keySet());
    assertEquals(List.of("pod default/raw volume data: volume pv-2 is used as a block device and as a filesystem"),
        dsw.pods().get("default/raw").errors());
    assertEquals(List.of(), dsw.pods().get("default/raw").uniqueNames());
  }

  /**
   * Random changes to pods sharing claims (some using a claim as a block device and others as a filesystem, so
   * they conflict), PVs, the CSIDriver and a Secret: after every step the incremental populator must give exactly
   * what a resolution from scratch gives.
   */
  @Test
  void incrementalBuildsEqualResolutionsFromScratch() {
    int[] conflicts = {0};
    for (long seed = 1; seed <= 4; seed++) {
      Random random = new Random(seed);
      DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
      Map<String, HasMetadata> world = new TreeMap<>();
      // Changed as the agent changes its views (only the kinds touched are new maps), so the populator's shortcut
      // for kinds that did not change is exercised; the expected state is resolved from scratch from the world.
      ClusterObjects current = ClusterObjects.EMPTY;
      for (int step = 0; step < 400; step++) {
        Map<String, HasMetadata> before = new HashMap<>(world);
        int what = random.nextInt(10);
        if (what < 5) {
          int i = random.nextInt(8);
          if (random.nextInt(4) == 0) {
            world.remove("pod/p" + i);
          } else {
            world.put("pod/p" + i, randomPod(i, random));
          }
        } else if (what < 7) {
          String c = "abc".substring(random.nextInt(3)).substring(0, 1);
          if (random.nextInt(3) == 0) {
            world.remove("pv/" + c);
          } else {
            // Two PVs with the same handle are one volume: used as a block device and as a filesystem, they conflict.
            world.put("pv/" + c, pv(c, random.nextBoolean() ? c : "shared", random.nextBoolean(), random.nextBoolean()));
          }
        } else if (what < 8) {
          String c = "abc".substring(random.nextInt(3)).substring(0, 1);
          if (random.nextInt(3) == 0) {
            world.remove("claim/" + c);
          } else {
            world.put("claim/" + c, claim(c));
          }
        } else if (what < 9) {
          toggle(world, "driver", () -> parse(DRIVER.replace("podInfoOnMount: true", "podInfoOnMount: true, volumeLifecycleModes: [Persistent, Ephemeral]")).get(0), random);
        } else {
          toggle(world, "secret", () -> parse(SECRET).get(0), random);
        }
        List<HasMetadata> upserts = new ArrayList<>();
        List<HasMetadata> removals = new ArrayList<>();
        before.forEach((k, o) -> {
          if (!world.containsKey(k)) {
            removals.add(o);
          }
        });
        world.forEach((k, o) -> {
          if (before.get(k) != o) {
            upserts.add(o);
          }
        });
        current = current.with(upserts, removals);
        DesiredStateOfWorld incremental = populator.build(current, Map.of());
        assertEquals(DesiredStateOfWorldPopulator.populate(objects(new ArrayList<>(world.values()))), incremental,
            "seed " + seed + " step " + step + ": " + world.keySet());
        incremental.pods().values().stream().flatMap(p -> p.errors().stream()).filter(e -> e.contains("as a block device and as a filesystem"))
            .findAny().ifPresent(e -> conflicts[0]++);
      }
    }
    assertTrue(conflicts[0] > 50, "the steps must include conflicting uses of one volume, not only independent ones: " + conflicts[0]);
  }

  private static void toggle(Map<String, HasMetadata> world, String key, Supplier<HasMetadata> make,
                             Random random) {
    if (world.containsKey(key) && random.nextBoolean()) {
      world.remove(key);
    } else {
      world.put(key, make.get());
    }
  }

  private static HasMetadata randomPod(int i, Random random) {
    var spec = new PodSpecBuilder();
    var container = new ContainerBuilder().withName("c").withImage("busybox");
    int volumes = 1 + random.nextInt(3);
    for (int v = 0; v < volumes; v++) {
      String name = "v" + v;
      int kind = random.nextInt(4);
      if (kind == 3) {
        spec.addNewVolume().withName(name).withNewCsi().withDriver("d.example.com").endCsi().endVolume();
      } else {
        spec.addNewVolume().withName(name).withNewPersistentVolumeClaim().withClaimName("claim-" + "abc".charAt(kind)).endPersistentVolumeClaim().endVolume();
      }
      if (random.nextBoolean()) {
        container.addNewVolumeDevice().withName(name).withDevicePath("/dev/" + name).endVolumeDevice();
      } else {
        container.addNewVolumeMount().withName(name).withMountPath("/" + name).endVolumeMount();
      }
    }
    return new PodBuilder().withNewMetadata().withName("p" + i).withNamespace("default")
        .withUid(String.format("aaaaaaaa-0000-4000-8000-%012d", i)).endMetadata()
        .withSpec(spec.withContainers(container.build()).build()).build();
  }

  private static HasMetadata claim(String c) {
    return parse(CLAIM.replace("name: claim,", "name: claim-" + c + ",").replace("pv-1", "pv-" + c)).get(0);
  }

  private static HasMetadata pv(String c, String handle, boolean block, boolean stageSecret) {
    String yaml = PV.replace("pv-1", "pv-" + c).replace("name: claim}", "name: claim-" + c + "}").replace("h1", "h-" + handle)
        .replace("  capacity:", "  volumeMode: " + (block ? "Block" : "Filesystem") + "\n  capacity:");
    return parse(stageSecret ? yaml : yaml.replace(", nodeStageSecretRef: {name: s, namespace: default}", "")).get(0);
  }
}
