package dev.csinode.agent.podsource;

import static org.junit.jupiter.api.Assertions.*;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Changing a view copies only the kinds touched; an overlay's objects replace the base's of the same kind and key. */
@Tag("unit")
class ClusterObjectsTest {
  static HasMetadata pod(String ns, String name, String uid) {
    return new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).withUid(uid).endMetadata().build();
  }

  @Test
  void withReplacesAndRemovesByKindAndKeyAndSharesUntouchedKinds() {
    HasMetadata secret = new SecretBuilder().withNewMetadata().withNamespace("ns").withName("s").endMetadata().build();
    HasMetadata pv = new PersistentVolumeBuilder().withNewMetadata().withName("pv").endMetadata().build();
    ClusterObjects base = ClusterObjects.of(List.of(pod("ns", "a", "1"), pod("ns", "b", "2"), secret, pv), List.of("e"));

    ClusterObjects next = base.with(List.of(pod("ns", "a", "1-new"), pod("other", "a", "3")), List.of(pod("ns", "b", "")));
    assertEquals("1-new", next.pods().get("ns/a").getMetadata().getUid());
    assertEquals("3", next.pods().get("other/a").getMetadata().getUid());
    assertFalse(next.pods().containsKey("ns/b"));
    assertEquals(2, base.pods().size(), "the base view is unchanged");
    assertTrue(base.pods().containsKey("ns/b"));
    assertSame(base.secrets(), next.secrets(), "kinds not touched are shared, not copied");
    assertSame(base.volumes(), next.volumes());
    assertEquals(List.of("e"), next.errors());

    ClusterObjects noPv = next.with(List.of(), List.of(pv));
    assertTrue(noPv.volumes().isEmpty(), "cluster-scoped objects are keyed by name");
  }

  @Test
  void overlayPrefersTheTopObjectsAndKeepsBothErrorLists() {
    ClusterObjects manifests = ClusterObjects.of(List.of(pod("ns", "a", "from-file"), pod("ns", "m", "m")), List.of("bad file"));
    ClusterObjects pushed = ClusterObjects.of(List.of(pod("ns", "a", "pushed")), List.of());
    ClusterObjects merged = ClusterObjects.overlay(manifests, pushed);
    assertEquals("pushed", merged.pods().get("ns/a").getMetadata().getUid());
    assertEquals("m", merged.pods().get("ns/m").getMetadata().getUid());
    assertEquals(List.of("bad file"), merged.errors());
    assertSame(pushed.pods(), ClusterObjects.overlay(ClusterObjects.EMPTY, pushed).pods(), "no manifests: the pushed view as it is");
  }

  @Test
  void mergedSourcesAreMergedAgainOnlyWhenASourceChanged() {
    ClusterObjects manifests = ClusterObjects.of(List.of(pod("ns", "a", "from-file")), List.of());
    ClusterObjects pushed = ClusterObjects.of(List.of(pod("ns", "a", "pushed"), pod("ns", "p", "p")), List.of());
    MergedSources merged = new MergedSources();
    ClusterObjects first = merged.of(manifests, pushed);
    assertEquals("pushed", first.pods().get("ns/a").getMetadata().getUid());
    assertSame(first, merged.of(manifests, pushed), "nothing changed: the same objects, so later stages skip them");
    ClusterObjects morePushed = pushed.with(List.of(pod("ns", "q", "q")), List.of());
    ClusterObjects second = merged.of(manifests, morePushed);
    assertTrue(second.pods().containsKey("ns/q"));
    assertSame(second, merged.of(manifests, morePushed));
    assertFalse(merged.of(ClusterObjects.EMPTY, morePushed).pods().containsKey("ns/m"));
  }

  @Test
  void namesThatWouldMakeKeysAmbiguousAreRefusedWithTheirField() {
    // Namespace a, name b/c and namespace a/b, name c would both be the pod a/b/c.
    var parsed = ManifestParser.parse(Path.of("m.yaml"), """
        apiVersion: v1
        kind: Pod
        metadata: {name: b/c, namespace: a}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: c, namespace: a/b}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: "..", namespace: a}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: ok, namespace: a}
        """);
    assertEquals(List.of("a/ok"), parsed.objects().stream().map(ClusterObjects::key).toList());
    assertEquals(3, parsed.errors().size(), parsed.errors().toString());
    assertTrue(parsed.errors().get(0).contains("m.yaml document 1: Pod b/c: metadata.name 'b/c'"), parsed.errors().get(0));
    assertTrue(parsed.errors().get(1).contains("metadata.namespace 'a/b'"), parsed.errors().get(1));
    assertTrue(parsed.errors().get(2).contains("metadata.name '..'"), parsed.errors().get(2));
  }
}
