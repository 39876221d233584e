package dev.csinode.agent.provisioner;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.podsource.ManifestParser;
import dev.csinode.csi.v1.VolumeCapability;
import dev.csinode.csi.v1.VolumeCapability.AccessMode.Mode;
import dev.csinode.plugins.csi.RegisteredDriver;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Optional;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The claim binder on its own: no driver, no disk, no event loop. */
@Tag("unit")
class ClaimBinderTest {
  static final String DRIVER = "d.example.com";
  static final Function<String, Optional<RegisteredDriver>> REGISTERED = name -> driver(name, "STAGE_UNSTAGE_VOLUME");
  static final Function<String, Optional<RegisteredDriver>> NONE = name -> Optional.empty();

  static Optional<RegisteredDriver> driver(String name, String... nodeCapabilities) {
    return Optional.of(name).filter(DRIVER::equals).map(n -> new RegisteredDriver(n, "unix:///plugins/d/csi.sock",
        Path.of("/plugins_registry/d.sock"), "node-1", Map.of(), 0, List.of(nodeCapabilities), "1.0.0", 0, true));
  }

  static final String CLASS = """
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: fast}
      provisioner: d.example.com
      reclaimPolicy: Retain
      parameters: {kind: directory, csi.storage.k8s.io/fstype: xfs}
      """;

  static String claim(String name, String extra) {
    return """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %s, namespace: default, uid: 0000000%s-0000-4000-8000-000000000000}
        spec: {storageClassName: fast, accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Mi}}%s}
        """.formatted(name, name.length() > 1 ? "0" : name, extra);
  }

  static final String EPHEMERAL_POD = """
      apiVersion: v1
      kind: Pod
      metadata: {name: app, namespace: default, uid: aaaaaaaa-0000-4000-8000-000000000001}
      spec:
        containers: [{name: c, image: busybox}]
        volumes:
        - {name: scratch, ephemeral: {volumeClaimTemplate: {spec: {storageClassName: fast, accessModes: [ReadWriteOnce], volumeMode: Block}}}}
      """;

  static ClusterObjects objects(String... docs) {
    List<HasMetadata> out = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (String d : docs) {
      ManifestParser.Result r = ManifestParser.parse(Path.of("test"), d);
      out.addAll(r.objects());
      errors.addAll(r.errors());
    }
    return ClusterObjects.of(out, errors); // a field the parser finds wrong still reaches the binder, which names it too
  }

  /** What the provisioner would record after a CreateVolume for this claim. */
  static Map<String, Provisioned> provisioned(Map<String, Provisioned> before, Provisioner.Creation c) {
    PersistentVolume pv = new PersistentVolumeBuilder().withNewMetadata().withName(c.pvName()).endMetadata().withNewSpec()
        .withNewClaimRef().withNamespace("default").withName(c.claim().getMetadata().getName()).endClaimRef()
        .withPersistentVolumeReclaimPolicy("Delete").withNewCsi().withDriver(DRIVER).withVolumeHandle("h-" + c.pvName()).endCsi()
        .endSpec().build();
    Map<String, Provisioned> next = new HashMap<>(before);
    next.put(c.pvName(), new Provisioned(pv));
    return Map.copyOf(next);
  }

  @Test
  void aClaimOfAClassWithARegisteredDriverAsksForItsVolumeAndIsBoundOnceItExists() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects sources = objects(CLASS, claim("a", ""));
    ClaimBinder.Result first = binder.bind(sources, Map.of(), REGISTERED);
    assertEquals(Set.of("default/a"), first.unbound());
    assertEquals(Map.of(), first.errors());
    Provisioner.Creation c = first.toCreate().get(0);
    assertEquals("pvc-0000000a-0000-4000-8000-000000000000", c.pvName());
    assertEquals(DRIVER, c.driver());
    assertEquals(2L << 20, c.request().getCapacityRange().getRequiredBytes());
    assertEquals(Map.of("kind", "directory"), c.request().getParametersMap(), "the csi.storage.k8s.io/ parameters are not the driver's");
    VolumeCapability cap = c.request().getVolumeCapabilities(0);
    assertTrue(cap.hasMount() && cap.getMount().getFsType().equals("xfs"), "" + cap);
    assertNull(first.objects().claims().get("default/a").getSpec().getVolumeName(), "not bound before its volume exists");

    Map<String, Provisioned> made = provisioned(Map.of(), c);
    ClaimBinder.Result second = binder.bind(sources, made, REGISTERED);
    assertEquals(c.pvName(), second.objects().claims().get("default/a").getSpec().getVolumeName());
    assertEquals(List.of(), second.toCreate());
    assertEquals(Set.of(), second.unbound());
    assertSame(made.get(c.pvName()).pv(), second.objects().volumes().get(c.pvName()), "the provisioned volume is handed on");
  }

  @Test
  void nothingChangedMeansTheSameInstancesDownstream() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects sources = objects(CLASS, claim("a", ""), claim("b", ""));
    Map<String, Provisioned> made = provisioned(Map.of(), binder.bind(sources, Map.of(), REGISTERED).toCreate().get(0));
    ClaimBinder.Result once = binder.bind(sources, made, REGISTERED);
    // A pod comes: claims and volumes are the same maps, the bound copy the same object.
    ClusterObjects withPod = sources.with(objects(EPHEMERAL_POD.replace("ephemeral: {volumeClaimTemplate: "
        + "{spec: {storageClassName: fast, accessModes: [ReadWriteOnce], volumeMode: Block}}}", "emptyDir: {}")).pods().values(), List.of());
    assertSame(sources.claims(), withPod.claims());
    ClaimBinder.Result again = binder.bind(withPod, made, REGISTERED);
    assertSame(once.objects().claims(), again.objects().claims());
    assertSame(once.objects().volumes(), again.objects().volumes());
    // Another volume provisioned: a new claims map, but the claim bound before keeps its bound copy.
    String boundKey = once.objects().claims().entrySet().stream().filter(e -> e.getValue().getSpec().getVolumeName() != null)
        .findFirst().orElseThrow().getKey();
    Map<String, Provisioned> more = provisioned(made, again.toCreate().get(0));
    ClaimBinder.Result third = binder.bind(withPod, more, REGISTERED);
    assertNotSame(again.objects().claims(), third.objects().claims());
    assertSame(again.objects().claims().get(boundKey), third.objects().claims().get(boundKey));
  }

  @Test
  void aClaimThatCannotBeProvisionedIsItsOwnErrorUntilWhatItLacksComes() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects noClass = objects(claim("a", ""), claim("b", ", volumeName: pv-b"));
    ClaimBinder.Result r = binder.bind(noClass, Map.of(), REGISTERED);
    assertEquals("claim default/a asks for StorageClass fast, which does not exist", r.errors().get("default/a"));
    assertEquals(Set.of("default/a"), r.unbound(), "a claim naming its volume is not the binder's");
    assertSame(noClass.claims().get("default/b"), r.objects().claims().get("default/b"));

    ClusterObjects withClass = objects(CLASS, claim("a", ""), claim("b", ", volumeName: pv-b"));
    ClaimBinder.Result unregistered = binder.bind(withClass, Map.of(), NONE);
    assertTrue(unregistered.errors().get("default/a").contains("names provisioner d.example.com, which is not a registered CSI driver"),
        "" + unregistered.errors());
    assertEquals(List.of(), unregistered.toCreate());
    // The driver registers; the objects are the same instances: the claim still asks now.
    ClaimBinder.Result registered = binder.bind(withClass, Map.of(), REGISTERED);
    assertEquals(Map.of(), registered.errors());
    assertEquals(List.of("default/a"), registered.toCreate().stream().map(Provisioner.Creation::claimKey).toList());
  }

  @Test
  void badFieldsAreNamedAndTheOtherClaimsProceed() {
    ClaimBinder binder = new ClaimBinder();
    String nullMode = claim("n", "").replace("accessModes: [ReadWriteOnce]", "accessModes: [null]");
    String badSize = claim("s", "").replace("storage: 2Mi", "storage: 12Gü");
    String badMode = claim("m", ", volumeMode: Sideways");
    ClaimBinder.Result r = binder.bind(objects(CLASS, nullMode, badSize, badMode, claim("a", "")), Map.of(), REGISTERED);
    assertTrue(r.errors().get("default/n").contains("claim default/n: spec.accessModes[0] is null"), "" + r.errors());
    assertTrue(r.errors().get("default/s").contains("claim default/s: spec.resources.requests.storage '12Gü'"), "" + r.errors());
    assertTrue(r.errors().get("default/m").contains("spec.volumeMode 'Sideways' is neither Filesystem nor Block"), "" + r.errors());
    assertEquals(List.of("default/a"), r.toCreate().stream().map(Provisioner.Creation::claimKey).toList());
  }

  @Test
  void aGenericEphemeralVolumeBecomesAClaimItsPodControls() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects src = objects(CLASS, EPHEMERAL_POD);
    ClaimBinder.Result r = binder.bind(src, Map.of(), REGISTERED);
    PersistentVolumeClaim c = r.objects().claims().get("default/app-scratch");
    assertNotNull(c, "" + r.objects().claims().keySet());
    var owner = c.getMetadata().getOwnerReferences().get(0);
    assertTrue(owner.getKind().equals("Pod") && owner.getName().equals("app") && owner.getController()
        && owner.getUid().equals("aaaaaaaa-0000-4000-8000-000000000001"), "" + owner);
    Provisioner.Creation creation = r.toCreate().get(0);
    assertTrue(creation.block() && creation.request().getVolumeCapabilities(0).hasBlock());
    assertEquals(1L << 30, creation.request().getCapacityRange().getRequiredBytes(), "a claim asking no size gets 1 GiB");
    // The same pod object again: the same claim object, nothing evaluated again.
    ClusterObjects samePod = new ClusterObjects(new HashMap<>(src.pods()), src.claims(), src.volumes(), src.storageClasses(),
        src.csiDrivers(), src.secrets(), src.errors());
    assertNotSame(src.pods(), samePod.pods());
    assertSame(c, binder.bind(samePod, Map.of(), REGISTERED).objects().claims().get("default/app-scratch"));
    // A pod without a valid uid makes no claim.
    ClaimBinder.Result noUid = new ClaimBinder().bind(objects(CLASS, EPHEMERAL_POD.replace("aaaaaaaa-0000-4000-8000-000000000001", "x/y")),
        Map.of(), REGISTERED);
    assertFalse(noUid.objects().claims().containsKey("default/app-scratch"));
  }

  @Test
  void onlyAVolumeWhoseClaimWasSeenAndIsGoneIsReleasable() {
    ClusterObjects sources = objects(CLASS, claim("a", ""));
    ClaimBinder seenFirst = new ClaimBinder();
    Map<String, Provisioned> made = provisioned(Map.of(), seenFirst.bind(sources, Map.of(), REGISTERED).toCreate().get(0));
    assertEquals(List.of(), seenFirst.bind(sources, made, REGISTERED).releasable());
    ClaimBinder.Result gone = seenFirst.bind(objects(CLASS), made, REGISTERED);
    assertEquals(List.copyOf(made.values()), gone.releasable());
    assertTrue(seenFirst.seen("default/a"));

    // After a restart with other manifests the volume is releasable too, but its claim was never seen: the
    // provisioner keeps it (Released in status) instead of deleting it.
    ClaimBinder restarted = new ClaimBinder();
    assertEquals(List.copyOf(made.values()), restarted.bind(objects(CLASS), made, REGISTERED).releasable());
    assertFalse(restarted.seen("default/a"));
  }

  @Test
  void aClaimBackUnderItsNameWhileItsOldVolumeIsDeletedStaysSeen() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects first = objects(CLASS, claim("a", ""));
    Map<String, Provisioned> old = provisioned(Map.of(), binder.bind(first, Map.of(), REGISTERED).toCreate().get(0));
    binder.bind(first, old, REGISTERED);
    assertEquals(List.copyOf(old.values()), binder.bind(objects(CLASS), old, REGISTERED).releasable());
    // The claim comes back (a new uid) while the provisioner deletes the old volume, gets its own volume, and then
    // the old one's deletion completes.
    ClusterObjects back = objects(CLASS, claim("a", "").replace("uid: 0000000a-", "uid: 0000000f-"));
    Provisioner.Creation again = binder.bind(back, old, REGISTERED).toCreate().get(0);
    assertNotEquals(old.keySet().iterator().next(), again.pvName());
    Map<String, Provisioned> both = provisioned(old, again);
    binder.bind(back, both, REGISTERED);
    binder.forget("default/a");
    Map<String, Provisioned> made = Map.of(again.pvName(), both.get(again.pvName())); // the same record: only the old one went
    binder.bind(back, made, REGISTERED);
    assertTrue(binder.seen("default/a"), "the claim that is back was seen: its own volume is released, not kept, when it goes");
    assertEquals(List.copyOf(made.values()), binder.bind(objects(CLASS), made, REGISTERED).releasable());
    assertTrue(binder.seen("default/a"));
  }

  @Test
  void createVolumeAsksForTheAccessModeNodeStageWillAskFor() {
    // The kubelet's mapping: with SINGLE_NODE_MULTI_WRITER a ReadWriteOncePod volume is SINGLE_NODE_SINGLE_WRITER and
    // a ReadWriteOnce one SINGLE_NODE_MULTI_WRITER; without it both are SINGLE_NODE_WRITER.
    ClusterObjects sources = objects(CLASS, claim("a", ""), claim("b", "").replace("[ReadWriteOnce]", "[ReadWriteOncePod]"),
        claim("c", "").replace("[ReadWriteOnce]", "[ReadOnlyMany, ReadWriteOnce]"));
    Map<String, Mode> aware = modes(new ClaimBinder().bind(sources, Map.of(),
        name -> driver(name, "STAGE_UNSTAGE_VOLUME", "SINGLE_NODE_MULTI_WRITER")));
    assertEquals(Map.of("default/a", Mode.SINGLE_NODE_MULTI_WRITER, "default/b", Mode.SINGLE_NODE_SINGLE_WRITER,
        "default/c", Mode.MULTI_NODE_READER_ONLY), aware);
    Map<String, Mode> plain = modes(new ClaimBinder().bind(sources, Map.of(), REGISTERED));
    assertEquals(Map.of("default/a", Mode.SINGLE_NODE_WRITER, "default/b", Mode.SINGLE_NODE_WRITER,
        "default/c", Mode.MULTI_NODE_READER_ONLY), plain);

    // The same binder, the driver registered again with the capability: the cached request is not reused.
    ClaimBinder binder = new ClaimBinder();
    binder.bind(sources, Map.of(), REGISTERED);
    assertEquals(Mode.SINGLE_NODE_SINGLE_WRITER, modes(binder.bind(sources, Map.of(),
        name -> driver(name, "SINGLE_NODE_MULTI_WRITER"))).get("default/b"));
  }

  /**
   * Two claims with one uid would both bind {@code pvc-<uid>}: the second bound the first's volume, and its pods then
   * failed on the claimRef. Only the claim the volume's claimRef names binds it; the other is told why.
   */
  @Test
  void aClaimWithAnotherClaimsUidDoesNotBindThatClaimsVolume() {
    ClaimBinder binder = new ClaimBinder();
    ClusterObjects one = objects(CLASS, claim("a", ""));
    Provisioner.Creation c = binder.bind(one, Map.of(), REGISTERED).toCreate().get(0);
    Map<String, Provisioned> made = provisioned(Map.of(), c);
    String twin = claim("a", "").replace("name: a,", "name: twin,");
    ClusterObjects both = objects(CLASS, claim("a", ""), twin);
    ClaimBinder.Result r = binder.bind(both, made, REGISTERED);
    assertEquals(c.pvName(), volumeName(r, "default/a"));
    assertNull(volumeName(r, "default/twin"), "bound the volume of claim default/a");
    assertTrue(r.errors().get("default/twin").contains("has the uid of claim default/a"), "" + r.errors());
    assertEquals(List.of(), r.toCreate(), "its volume's name is taken: nothing may be created under it");
    ClaimBinder.Result scratch = new ClaimBinder().bind(both, made, REGISTERED);
    assertNull(volumeName(scratch, "default/twin"));
    assertEquals(r.errors(), scratch.errors());

    // Neither has its volume yet: neither asks for it (either volume would be bound by both), and both are told.
    ClaimBinder.Result none = new ClaimBinder().bind(both, Map.of(), REGISTERED);
    assertEquals(List.of(), none.toCreate());
    assertTrue(none.errors().get("default/a").contains("has the uid of claim default/twin"), "" + none.errors());
    assertTrue(none.errors().get("default/twin").contains("has the uid of claim default/a"), "" + none.errors());
    // The twin goes: the claim asks for its volume again, with the same binder.
    ClaimBinder again = new ClaimBinder();
    again.bind(both, Map.of(), REGISTERED);
    assertEquals(List.of("default/a"), again.bind(one, Map.of(), REGISTERED).toCreate().stream()
        .map(Provisioner.Creation::claimKey).toList());
  }

  /**
   * Claims that never get a volume (named volumes, claims of a missing class, or gone before their volume was made)
   * are not remembered after they went: "seen" is asked only of a provisioned volume's claim. One whose CreateVolume
   * still runs when it goes is, until that volume is recorded: its release is then recorded, as before.
   */
  @Test
  void claimsGoneWithoutAVolumeAreNotRememberedForever() {
    java.util.Set<String> running = new java.util.HashSet<>();
    ClaimBinder binder = new ClaimBinder(running::contains);
    Map<String, Provisioned> made = Map.of();
    for (int i = 0; i < 500; i++) {
      String n = "churn" + i;
      ClusterObjects present = objects(CLASS, manifestClaim(n), claim("x", ", volumeName: pv-" + n).replace("name: x,", "name: s" + n + ","),
          manifestClaim("m" + n).replace("fast", "missing"));
      assertEquals(1, binder.bind(present, made, REGISTERED).toCreate().size());
      binder.bind(objects(CLASS), made, REGISTERED);
    }
    assertEquals(0, binder.seenCount(), "claims that went without a volume are still remembered");

    // A claim whose CreateVolume runs when it goes: seen until its volume is recorded, which is then releasable.
    ClusterObjects sources = objects(CLASS, manifestClaim("late"));
    Provisioner.Creation c = binder.bind(sources, made, REGISTERED).toCreate().get(0);
    running.add(c.pvName());
    binder.bind(objects(CLASS), made, REGISTERED);
    assertTrue(binder.seen("default/late"));
    binder.bind(objects(CLASS), made, REGISTERED);
    assertTrue(binder.seen("default/late"), "forgotten while its CreateVolume ran");
    running.remove(c.pvName());
    made = provisioned(made, c);
    ClaimBinder.Result recorded = binder.bind(objects(CLASS), made, REGISTERED);
    assertEquals(List.copyOf(made.values()), recorded.releasable());
    assertTrue(binder.seen("default/late"), "its volume is released, not kept as never seen");
    // The volume deleted: nothing names the claim any more.
    binder.bind(objects(CLASS), Map.of(), REGISTERED);
    assertFalse(binder.seen("default/late"));

    // A CreateVolume that ended without a volume leaves nothing to ask about.
    ClusterObjects failing = objects(CLASS, manifestClaim("failed"));
    Provisioner.Creation f = binder.bind(failing, Map.of(), REGISTERED).toCreate().get(0);
    running.add(f.pvName());
    binder.bind(objects(CLASS), Map.of(), REGISTERED);
    assertTrue(binder.seen("default/failed"));
    running.remove(f.pvName());
    binder.bind(objects(CLASS), Map.of(), REGISTERED);
    assertFalse(binder.seen("default/failed"));
    assertEquals(0, binder.seenCount());
  }

  /** A claim as manifests give it: no uid, so its volume's name is derived from namespace and name. */
  static String manifestClaim(String name) {
    return """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %s, namespace: default}
        spec: {storageClassName: fast, accessModes: [ReadWriteOnce], resources: {requests: {storage: 2Mi}}}
        """.formatted(name);
  }

  static String volumeName(ClaimBinder.Result r, String key) {
    return r.objects().claims().get(key).getSpec().getVolumeName();
  }

  @Test
  void aVolumeThatChangesIsEvaluatedAgainForItsOwnClaimOnly() {
    String[] docs = new String[101];
    docs[0] = CLASS;
    for (int i = 0; i < 100; i++) {
      docs[i + 1] = manifestClaim("c" + i);
    }
    ClusterObjects sources = objects(docs);
    ClaimBinder binder = new ClaimBinder();
    ClaimBinder.Result first = binder.bind(sources, Map.of(), REGISTERED);
    assertEquals(100, binder.evaluations());
    assertEquals(100, first.toCreate().size());
    binder.bind(sources, Map.of(), REGISTERED);
    assertEquals(100, binder.evaluations(), "nothing changed: nothing evaluated again");

    // c7's volume is provisioned: c7 is evaluated again and bound, the other claims keep their objects.
    Provisioner.Creation c7 = first.toCreate().stream().filter(c -> c.claimKey().equals("default/c7")).findFirst().orElseThrow();
    Map<String, Provisioned> made = provisioned(Map.of(), c7);
    ClaimBinder.Result bound = binder.bind(sources, made, REGISTERED);
    assertEquals(101, binder.evaluations());
    assertEquals(c7.pvName(), volumeName(bound, "default/c7"));
    assertEquals(99, bound.unbound().size());
    assertFalse(bound.unbound().contains("default/c7"));
    assertSame(sources.claims().get("default/c8"), bound.objects().claims().get("default/c8"));

    // A volume no claim binds to: nothing is evaluated, the claims are the same map.
    Map<String, Provisioned> stranger = new HashMap<>(made);
    Provisioned other = new Provisioned(new PersistentVolumeBuilder(made.get(c7.pvName()).pv()).editMetadata().withName("pvc-other")
        .endMetadata().build());
    stranger.put("pvc-other", other);
    ClaimBinder.Result withStranger = binder.bind(sources, Map.copyOf(stranger), REGISTERED);
    assertEquals(101, binder.evaluations());
    assertSame(bound.objects().claims(), withStranger.objects().claims());

    // c7's volume is another instance (its record written again): c7 gets a bound copy of the new one.
    Map<String, Provisioned> rewritten = new HashMap<>(stranger);
    PersistentVolume again = new PersistentVolumeBuilder(made.get(c7.pvName()).pv()).build();
    rewritten.put(c7.pvName(), new Provisioned(again));
    ClaimBinder.Result rebound = binder.bind(sources, Map.copyOf(rewritten), REGISTERED);
    assertEquals(102, binder.evaluations());
    assertNotSame(bound.objects().claims().get("default/c7"), rebound.objects().claims().get("default/c7"));
    assertSame(again, rebound.objects().volumes().get(c7.pvName()));

    // c7's volume is gone: c7 is unbound again and asks for it.
    rewritten.remove(c7.pvName());
    ClaimBinder.Result gone = binder.bind(sources, Map.copyOf(rewritten), REGISTERED);
    assertEquals(103, binder.evaluations());
    assertSame(sources.claims().get("default/c7"), gone.objects().claims().get("default/c7"));
    assertTrue(gone.toCreate().stream().anyMatch(c -> c.claimKey().equals("default/c7")));

    // One claim replaced and one deleted in the sources: one evaluation, and the deleted one is gone downstream.
    ClusterObjects changed = sources.with(objects(manifestClaim("c3").replace("2Mi", "3Mi")).claims().values(),
        List.of(sources.claims().get("default/c4")));
    ClaimBinder.Result after = binder.bind(changed, Map.copyOf(rewritten), REGISTERED);
    assertEquals(104, binder.evaluations());
    assertFalse(after.objects().claims().containsKey("default/c4"));
    assertFalse(after.unbound().contains("default/c4"));
    assertEquals(3L << 20, after.toCreate().stream().filter(c -> c.claimKey().equals("default/c3")).findFirst().orElseThrow()
        .request().getCapacityRange().getRequiredBytes());
  }

  /**
   * Random changes of claims, ephemeral pods and provisioned volumes: the binder that evaluates incrementally says
   * what a fresh binder, evaluating everything, says of the same objects.
   */
  @Test
  void incrementalBindingAgreesWithBindingFromScratch() {
    java.util.Random random = new java.util.Random(16);
    ClaimBinder binder = new ClaimBinder();
    Map<String, String> claimDocs = new HashMap<>();
    Map<String, String> podDocs = new HashMap<>();
    Map<String, Provisioned> provisioned = Map.of();
    ClusterObjects sources = objects(CLASS);
    for (int step = 0; step < 300; step++) {
      String n = "c" + random.nextInt(20);
      switch (random.nextInt(6)) {
        case 0 -> claimDocs.put(n, manifestClaim(n).replace("2Mi", (1 + random.nextInt(3)) + "Mi"));
        case 1 -> claimDocs.remove(n);
        case 2 -> claimDocs.put(n, claim("x", ", volumeName: pv-" + n).replace("name: x,", "name: " + n + ","));
        case 3 -> podDocs.put(n, EPHEMERAL_POD.replace("name: app", "name: " + n).replace("000000000001",
            String.format("%012d", random.nextInt(20))));
        case 4 -> podDocs.remove(n);
        default -> {
          // A volume provisioned for a claim that asks for one, or one of the volumes removed.
          List<Provisioner.Creation> asks = new ClaimBinder().bind(sources, provisioned, REGISTERED).toCreate();
          if (!asks.isEmpty() && random.nextBoolean()) {
            provisioned = provisioned(provisioned, asks.get(random.nextInt(asks.size())));
          } else if (!provisioned.isEmpty()) {
            Map<String, Provisioned> less = new HashMap<>(provisioned);
            less.remove(List.copyOf(provisioned.keySet()).get(random.nextInt(provisioned.size())));
            provisioned = Map.copyOf(less);
          }
        }
      }
      List<String> docs = new ArrayList<>(List.of(CLASS));
      docs.addAll(claimDocs.values());
      docs.addAll(podDocs.values());
      // Objects not changed keep their instances, as the pod sources hand them on.
      ClusterObjects parsed = objects(docs.toArray(String[]::new));
      sources = new ClusterObjects(keepSame(sources.pods(), parsed.pods()), keepSame(sources.claims(), parsed.claims()),
          parsed.volumes(), sources.storageClasses().isEmpty() ? parsed.storageClasses() : sources.storageClasses(),
          parsed.csiDrivers(), parsed.secrets(), parsed.errors());
      ClaimBinder.Result incremental = binder.bind(sources, provisioned, REGISTERED);
      ClaimBinder.Result scratch = new ClaimBinder().bind(sources, provisioned, REGISTERED);
      String at = "step " + step;
      assertEquals(volumeNames(scratch), volumeNames(incremental), at);
      assertEquals(scratch.unbound(), incremental.unbound(), at);
      assertEquals(scratch.errors(), incremental.errors(), at);
      assertEquals(Set.copyOf(scratch.toCreate().stream().map(c -> c.claimKey() + " " + c.request()).toList()),
          Set.copyOf(incremental.toCreate().stream().map(c -> c.claimKey() + " " + c.request()).toList()), at);
    }
  }

  /** {@code next}, with the objects of {@code before} where they are equal: the sources hand unchanged objects on as they are. */
  static <T> Map<String, T> keepSame(Map<String, T> before, Map<String, T> next) {
    Map<String, T> out = new HashMap<>();
    next.forEach((k, v) -> out.put(k, v.equals(before.get(k)) ? before.get(k) : v));
    return out;
  }

  static Map<String, String> volumeNames(ClaimBinder.Result r) {
    Map<String, String> out = new HashMap<>();
    r.objects().claims().forEach((k, c) -> out.put(k, String.valueOf(c.getSpec().getVolumeName())));
    return out;
  }

  static Map<String, Mode> modes(ClaimBinder.Result r) {
    Map<String, Mode> out = new HashMap<>();
    r.toCreate().forEach(c -> out.put(c.claimKey(), c.request().getVolumeCapabilities(0).getAccessMode().getMode()));
    return out;
  }
}
