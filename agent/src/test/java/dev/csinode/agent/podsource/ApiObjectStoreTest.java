package dev.csinode.agent.podsource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiObjectStoreTest {
  @TempDir Path state;

  private static List<String> ids(ApiObjectStore store) {
    return store.all().stream().map(ApiObjectStore::id).sorted().toList();
  }

  @Test
  void pushedObjectsAndDeletionsSurviveARestart() throws Exception {
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      store.apply(List.of(
          new PodBuilder().withNewMetadata().withName("a").withNamespace("ns").withUid("u-a").endMetadata().build(),
          new PodBuilder().withNewMetadata().withName("b").withNamespace("ns").withUid("u-b").endMetadata().build(),
          new SecretBuilder().withNewMetadata().withName("s").withNamespace("ns").endMetadata().addToStringData("k", "line1\nline2").build()));
      assertTrue(store.delete("Pod", "ns", "a"));
      assertFalse(store.delete("Pod", "ns", "a"), "already gone");
    }
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod/ns/b", "Secret/ns/s"), ids(store));
      HasMetadata secret = store.all().stream().filter(o -> o.getKind().equals("Secret")).findFirst().orElseThrow();
      assertEquals("line1\nline2", ((Secret) secret).getStringData().get("k"));
    }
  }

  @Test
  void objectsWhoseNamespaceAndNameJoinAlikeAreKeptApart() throws Exception {
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      store.apply(List.of(
          new PodBuilder().withNewMetadata().withName("c").withNamespace("a_b").withUid("u-1").endMetadata().build(),
          new PodBuilder().withNewMetadata().withName("b_c").withNamespace("a").withUid("u-2").endMetadata().build()));
      assertEquals(2, store.objects().pods().size());
    }
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod/a/b_c", "Pod/a_b/c"), ids(store), "both survive a restart");
      assertTrue(store.delete("Pod", "a", "b_c"));
      assertEquals(List.of("Pod/a_b/c"), ids(store), "deleting one leaves the other");
    }
  }

  @Test
  void recordsUnderTheKeysOfTheLastVersionAreReadAndMovedToTheNewKeys() throws Exception {
    // What the last version wrote: Kind_namespace_name keys in api-objects.log.
    Files.writeString(state.resolve("api-objects.log"), """
        {"key":"Pod_ns_app","value":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"app","namespace":"ns","uid":"u-app"}}}
        {"key":"CSIDriver___d.example.com","value":{"apiVersion":"storage.k8s.io/v1","kind":"CSIDriver","metadata":{"name":"d.example.com"},"spec":{}}}
        """);
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("CSIDriver/_/d.example.com", "Pod/ns/app"), ids(store));
      assertTrue(store.delete("Pod", "ns", "app"), "found under its new key");
    }
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("CSIDriver/_/d.example.com"), ids(store), "the old keys are gone from the log: nothing comes back");
    }
    assertFalse(Files.readString(state.resolve("api-objects.log")).contains("Pod_ns_app"));
  }

  @Test
  void objectsKeptAsFilesByAnOlderVersionAreTakenOver() throws Exception {
    Path old = Files.createDirectories(state.resolve("api-objects"));
    Files.writeString(old.resolve("Pod_ns_old.json"), """
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "old", "namespace": "ns", "uid": "u-old"}}
        """);
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod/ns/old"), ids(store));
      assertEquals("u-old", store.all().get(0).getMetadata().getUid());
    }
    assertFalse(Files.exists(old));
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod/ns/old"), ids(store), "kept in the log from now on");
    }
  }

  @Test
  void concurrentAppliesAndDeletesEndInTheSameStateInMemoryAndOnDisk() throws Exception {
    Set<String> expected = ConcurrentHashMap.newKeySet();
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < 8; t++) {
        int thread = t;
        done.add(pool.submit(() -> {
          for (int i = 0; i < 50; i++) {
            String name = "p" + thread + "-" + i;
            store.apply(List.of(new PodBuilder().withNewMetadata().withName(name).withNamespace("ns").endMetadata().build()));
            if (i % 2 == 0) {
              assertTrue(store.delete("Pod", "ns", name));
              assertFalse(store.delete("Pod", "ns", name), "already gone");
            } else {
              expected.add("Pod/ns/" + name);
            }
          }
          return null;
        }));
      }
      for (var f : done) {
        f.get();
      }
      pool.shutdown();
      assertEquals(expected.stream().sorted().toList(), ids(store));
      assertEquals(expected.size(), store.objects().pods().size(), "the view the agent reads agrees");
    }
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(expected.stream().sorted().toList(), ids(store), "and so does the log after a restart");
    }
  }
}
