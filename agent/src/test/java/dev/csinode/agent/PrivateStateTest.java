package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Secrets pushed through the API, and everything else the agent and its bundled driver keep, are their owner's alone. */
class PrivateStateTest {
  @TempDir Path root;

  /** Paths under dir whose mode is not 0700 (directories) or 0600 (files). */
  private List<String> wider(Path dir) throws Exception {
    List<String> wrong = new ArrayList<>();
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        if (Files.isSymbolicLink(p) || (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) && !Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))) {
          continue;
        }
        String mode = PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
        if (!mode.equals(Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) ? "rwx------" : "rw-------")) {
          wrong.add(root.relativize(p) + " " + mode);
        }
      }
    }
    return wrong;
  }

  @Test
  void storedSecretsAndAllStateArePrivateCreatedSoAndNarrowedAtStart() throws Exception {
    // What an older agent left: world-readable records in world-readable directories.
    Path state = Files.createDirectories(root.resolve("csi-node-agent/journal"));
    Path oldLog = Files.writeString(root.resolve("csi-node-agent/api-objects.log"), "");
    Files.setPosixFilePermissions(oldLog, PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(state, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.setPosixFilePermissions(state.getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
    Path driverState = Files.createDirectories(root.resolve("plugins/hostpath.csinode.dev/state/snapshots"));
    Files.setPosixFilePermissions(driverState, PosixFilePermissions.fromString("rwxr-xr-x"));

    Vertx vertx = Vertx.vertx();
    Agent agent = new Agent(vertx, new Agent.Config(root, "node-p", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults()));
    Await.result(agent.start());
    try {
      var applied = Await.result(agent.apply("""
          apiVersion: v1
          kind: Secret
          metadata: {name: db, namespace: default}
          stringData: {password: hunter2}
          """));
      assertEquals(List.of("Secret default/db"), applied.applied(), applied.errors().toString());
      String stored = Files.readString(root.resolve("csi-node-agent/api-objects.log"));
      assertTrue(stored.contains("hunter2"), "the secret is what this test is about: " + stored);
      assertEquals(List.of(), wider(root.resolve("csi-node-agent")));
      assertEquals(List.of(), wider(root.resolve("plugins/hostpath.csinode.dev/state")));
    } finally {
      Await.result(agent.stop());
      Await.result(vertx.close());
    }
  }

  /** Starts an agent (with its bundled driver) on {@link #root}; returns why it failed, or fails the test if it started. */
  private Throwable refusedStart() throws Exception {
    Vertx vertx = Vertx.vertx();
    try {
      Agent agent = new Agent(vertx, new Agent.Config(root, "node-p", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults()));
      Throwable failure = null;
      try {
        Await.result(agent.start());
      } catch (RuntimeException e) {
        failure = e;
      }
      if (failure == null) {
        Await.result(agent.stop());
      }
      assertNotNull(failure, "the agent started");
      return failure;
    } finally {
      Await.result(vertx.close());
    }
  }

  private static String messages(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (; t != null; t = t.getCause()) {
      b.append(t.getMessage()).append(" | ");
    }
    return b.toString();
  }

  @Test
  void aStateDirectoryThatIsASymlinkIsRefusedAndNothingIsWrittenWhereItPoints() throws Exception {
    Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
    Files.setPosixFilePermissions(elsewhere, PosixFilePermissions.fromString("rwxr-xr-x"));
    Files.createSymbolicLink(root.resolve("csi-node-agent"), elsewhere);
    String why = messages(refusedStart());
    assertTrue(why.contains(root.resolve("csi-node-agent").toString()) && why.contains("symbolic link"), why);
    try (Stream<Path> there = Files.list(elsewhere)) {
      assertEquals(List.of(), there.toList(), "nothing written where the link points");
    }
    assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(elsewhere)), "its mode untouched");
  }

  @Test
  void aJournalDirectoryThatIsASymlinkIsRefused() throws Exception {
    Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
    Files.createDirectories(root.resolve("csi-node-agent"));
    Files.createSymbolicLink(root.resolve("csi-node-agent/journal"), elsewhere);
    String why = messages(refusedStart());
    assertTrue(why.contains(root.resolve("csi-node-agent/journal").toString()) && why.contains("symbolic link"), why);
    try (Stream<Path> there = Files.list(elsewhere)) {
      assertEquals(List.of(), there.toList(), "nothing written where the link points");
    }
  }

  @Test
  void aStateDirectoryThatIsAFileIsRefusedNamingIt() throws Exception {
    Files.writeString(root.resolve("csi-node-agent"), "not a directory");
    String why = messages(refusedStart());
    assertTrue(why.contains(root.resolve("csi-node-agent").toString()), why);
  }
}
