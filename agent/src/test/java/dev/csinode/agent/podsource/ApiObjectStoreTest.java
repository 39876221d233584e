package dev.csinode.agent.podsource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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
      assertEquals(List.of("Pod_ns_b", "Secret_ns_s"), ids(store));
      HasMetadata secret = store.all().stream().filter(o -> o.getKind().equals("Secret")).findFirst().orElseThrow();
      assertEquals("line1\nline2", ((io.fabric8.kubernetes.api.model.Secret) secret).getStringData().get("k"));
    }
  }

  @Test
  void objectsKeptAsFilesByAnOlderVersionAreTakenOver() throws Exception {
    Path old = Files.createDirectories(state.resolve("api-objects"));
    Files.writeString(old.resolve("Pod_ns_old.json"), """
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "old", "namespace": "ns", "uid": "u-old"}}
        """);
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod_ns_old"), ids(store));
      assertEquals("u-old", store.all().get(0).getMetadata().getUid());
    }
    assertFalse(Files.exists(old));
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      assertEquals(List.of("Pod_ns_old"), ids(store), "kept in the log from now on");
    }
  }

  @Test
  void concurrentAppliesAndDeletesEndInTheSameStateInMemoryAndOnDisk() throws Exception {
    java.util.Set<String> expected = java.util.concurrent.ConcurrentHashMap.newKeySet();
    try (ApiObjectStore store = new ApiObjectStore(state)) {
      var pool = java.util.concurrent.Executors.newFixedThreadPool(8);
      List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
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
              expected.add("Pod_ns_" + name);
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
