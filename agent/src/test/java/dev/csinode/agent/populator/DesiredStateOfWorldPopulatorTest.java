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
    DesiredStateOfWorld one = populator.build(objects(List.of(driver, first)), java.util.Map.of());
    assertEquals(1, one.volumes().size());
    // The later pod sorts first by name: first seen decides, not the key.
    DesiredStateOfWorld both = populator.build(objects(List.of(driver, first, later)), java.util.Map.of());
    assertEquals(one.volumes(), both.volumes(), "the first pod's volumes are unaffected");
    assertEquals(List.of(), both.pods().get("default/zz-first").errors());
    var waiting = both.pods().get("default/aa-later");
    assertEquals(List.of(), waiting.uniqueNames(), "no volume of the later pod is set up");
    assertTrue(waiting.errors().get(0).contains("default/aa-later") && waiting.errors().get(0).contains("default/zz-first")
        && waiting.errors().get(0).contains("same-uid"), waiting.errors().toString());
    assertEquals(java.util.Map.of("same-uid", "default/zz-first"), both.volumes().values().iterator().next().pods().entrySet().stream()
        .collect(java.util.stream.Collectors.toMap(java.util.Map.Entry::getKey, e -> e.getValue().podKey())));

    // The later one goes: nothing changes for the first.
    assertEquals(one.volumes(), populator.build(objects(List.of(driver, first)), java.util.Map.of()).volumes());
    populator.build(objects(List.of(driver, first, later)), java.util.Map.of());
    // The first one goes: the uid is free, and the later pod gets it.
    DesiredStateOfWorld handed = populator.build(objects(List.of(driver, later)), java.util.Map.of());
    assertEquals(List.of(), handed.pods().get("default/aa-later").errors());
    assertEquals("default/aa-later", handed.volumes().values().iterator().next().pods().get("same-uid").podKey());
  }

  @Test
  void podsSeenTogetherWithOneUidAreOrderedByKeyOrByWhoHeldTheUidBeforeARestart() {
    HasMetadata driver = parse(DRIVER.replace("podInfoOnMount: true", "volumeLifecycleModes: [Ephemeral]")).get(0);
    List<HasMetadata> pods = List.of(driver, inlinePod("b", "same-uid"), inlinePod("a", "same-uid"));
    DesiredStateOfWorld fresh = new DesiredStateOfWorldPopulator().build(objects(pods), java.util.Map.of());
    assertEquals(List.of(), fresh.pods().get("default/a").errors());
    assertFalse(fresh.pods().get("default/b").errors().isEmpty());

    DesiredStateOfWorldPopulator restarted = new DesiredStateOfWorldPopulator();
    restarted.previousHolders(java.util.Map.of("same-uid", "default/b"));
    DesiredStateOfWorld after = restarted.build(objects(pods), java.util.Map.of());
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

  /**
   * Random changes to pods sharing claims (some using a claim as a block device and others as a filesystem, so
   * they conflict), PVs, the CSIDriver and a Secret: after every step the incremental populator must give exactly
   * what a resolution from scratch gives.
   */
  @Test
  void incrementalBuildsEqualResolutionsFromScratch() {
    int[] conflicts = {0};
    for (long seed = 1; seed <= 4; seed++) {
      java.util.Random random = new java.util.Random(seed);
      DesiredStateOfWorldPopulator populator = new DesiredStateOfWorldPopulator();
      java.util.Map<String, HasMetadata> world = new java.util.TreeMap<>();
      // Changed as the agent changes its views (only the kinds touched are new maps), so the populator's shortcut
      // for kinds that did not change is exercised; the expected state is resolved from scratch from the world.
      ClusterObjects current = ClusterObjects.EMPTY;
      for (int step = 0; step < 400; step++) {
        java.util.Map<String, HasMetadata> before = new java.util.HashMap<>(world);
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
        DesiredStateOfWorld incremental = populator.build(current, java.util.Map.of());
        assertEquals(DesiredStateOfWorldPopulator.populate(objects(new ArrayList<>(world.values()))), incremental,
            "seed " + seed + " step " + step + ": " + world.keySet());
        incremental.pods().values().stream().flatMap(p -> p.errors().stream()).filter(e -> e.contains("as a block device and as a filesystem"))
            .findAny().ifPresent(e -> conflicts[0]++);
      }
    }
    assertTrue(conflicts[0] > 50, "the steps must include conflicting uses of one volume, not only independent ones: " + conflicts[0]);
  }

  private static void toggle(java.util.Map<String, HasMetadata> world, String key, java.util.function.Supplier<HasMetadata> make,
                             java.util.Random random) {
    if (world.containsKey(key) && random.nextBoolean()) {
      world.remove(key);
    } else {
      world.put(key, make.get());
    }
  }

  private static HasMetadata randomPod(int i, java.util.Random random) {
    var spec = new io.fabric8.kubernetes.api.model.PodSpecBuilder();
    var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("c").withImage("busybox");
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
    return new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("p" + i).withNamespace("default")
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
