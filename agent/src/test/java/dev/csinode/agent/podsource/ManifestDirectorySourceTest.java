package dev.csinode.agent.podsource;

import static org.junit.jupiter.api.Assertions.*;

import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestDirectorySourceTest {
  /** Removed by JUnit after the test: what the test made goes with it. */
  @TempDir Path tmp;
  /** Regression: 1,000 bad files gave 114,116 WARN lines in 6 minutes, every error again at every change. */
  @Test
  void badFilesAreLoggedOncePerFileNotAtEveryChange() throws Exception {
    Path dir = Files.createTempDirectory(tmp, "manifests-");
    for (int i = 0; i < 100; i++) {
      Files.writeString(dir.resolve("bad-" + i + ".yaml"), "apiVersion: v1\nkind: Pod\nmetadata: [not: valid\n---\nkind: Nonsense\n");
    }
    Vertx vertx = Vertx.vertx();
    AtomicReference<ClusterObjects> last = new AtomicReference<>();
    try (ManifestDirectorySource source = new ManifestDirectorySource(dir, vertx.getOrCreateContext(), last::set)) {
      source.start();
      for (int i = 0; i < 30; i++) {
        replace(dir, "good.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\nstringData: {n: \"" + i + "\"}\n");
        String want = Integer.toString(i);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (last.get() == null || last.get().secrets().get("default/s") == null
            || !want.equals(last.get().secrets().get("default/s").getStringData().get("n"))) {
          assertTrue(System.nanoTime() < deadline, "change " + i + " not delivered");
          Thread.sleep(5);
        }
      }
      assertEquals(100, last.get().errors().size(), "every error is still in the snapshot (status shows them)");
      assertEquals(100, source.problemLines(), "one line per bad file, not one per error per change");
      // A file whose errors change is logged again; a fixed file is not.
      replace(dir, "bad-0.yaml", "kind: Other\n");
      replace(dir, "bad-1.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: fixed, namespace: default}\n");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (last.get().secrets().get("default/fixed") == null || last.get().errors().stream().noneMatch(e -> e.contains("kind Other"))) {
        assertTrue(System.nanoTime() < deadline, "edits not delivered");
        Thread.sleep(5);
      }
      assertEquals(101, source.problemLines());
    } finally {
      vertx.close().await();
    }
  }

  /**
   * A file caught half-written (an editor truncates, then writes) or empty keeps the objects of its last good
   * version: dropping them deleted its claims, and with reclaimPolicy Delete their volumes. Removing it deletes them.
   */
  @Test
  void aFileCaughtHalfWrittenOrEmptyKeepsItsObjectsUntilRemoved() throws Exception {
    Path dir = Files.createTempDirectory(tmp, "manifests-");
    String claim = "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data, namespace: default}\n"
        + "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n";
    replace(dir, "claim.yaml", claim + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default}\n");
    Vertx vertx = Vertx.vertx();
    AtomicReference<ClusterObjects> last = new AtomicReference<>();
    try (ManifestDirectorySource source = new ManifestDirectorySource(dir, vertx.getOrCreateContext(), last::set)) {
      source.start();
      await(last, o -> o.claims().containsKey("default/data") && o.secrets().containsKey("default/s"), "first version");

      replace(dir, "claim.yaml", claim + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: default");
      await(last, o -> o.errors().stream().anyMatch(e -> e.contains("cannot be read whole; keeping the 2 object(s)")), "half-written version");
      assertTrue(last.get().claims().containsKey("default/data"));
      assertTrue(last.get().secrets().containsKey("default/s"));

      Files.writeString(dir.resolve("claim.yaml"), "");
      await(last, o -> o.errors().stream().anyMatch(e -> e.contains("is empty; keeping the 2 object(s)")), "empty version");
      assertTrue(last.get().claims().containsKey("default/data"));

      Files.delete(dir.resolve("claim.yaml"));
      await(last, o -> o.claims().isEmpty() && o.secrets().isEmpty() && o.errors().isEmpty(), "removal");
    } finally {
      vertx.close().await();
    }
  }

  private static void await(AtomicReference<ClusterObjects> last, Predicate<ClusterObjects> done, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (last.get() == null || !done.test(last.get())) {
      assertTrue(System.nanoTime() < deadline, what + " not delivered: " + (last.get() == null ? null : last.get().errors()));
      Thread.sleep(5);
    }
  }

  static void replace(Path dir, String name, String text) throws Exception {
    Path tmp = dir.resolve("." + name + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }
}
