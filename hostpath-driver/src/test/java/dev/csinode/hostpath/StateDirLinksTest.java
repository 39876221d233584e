package dev.csinode.hostpath;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.testing.Await;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The directories the driver keeps below --state-dir are never reached through a link; --state-dir itself may be one. */
class StateDirLinksTest {
  @TempDir Path root;
  private final Vertx vertx = Vertx.vertx();

  @AfterEach
  void close() {
    Await.result(vertx.close());
  }

  private HostpathConfig config(Path stateDir) {
    return new HostpathConfig(new UnixEndpoint(root.resolve("csi.sock")), "node-1", stateDir,
        HostpathConfig.DEFAULT_DRIVER_NAME, 0, 1L << 30, false);
  }

  private static List<Path> list(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.toList();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"state", "volumes", "snapshots"})
  void aLinkBelowTheStateDirectoryIsRefusedNamingItAndNothingIsWrittenWhereItPoints(String name) throws Exception {
    Path stateDir = Files.createDirectories(root.resolve("driver"));
    Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
    Files.createSymbolicLink(stateDir.resolve(name), elsewhere);
    RuntimeException refused = assertThrows(RuntimeException.class, () -> Await.result(HostpathDriver.start(vertx, config(stateDir))));
    StringBuilder why = new StringBuilder();
    for (Throwable t = refused; t != null; t = t.getCause()) {
      why.append(t.getMessage()).append(" | ");
    }
    assertTrue(why.toString().contains(stateDir.resolve(name).toString()) && why.toString().contains("symbolic link"), why.toString());
    assertEquals(List.of(), list(elsewhere));
  }

  @Test
  void theStateDirectoryItselfMayBeALink() throws Exception {
    Path real = Files.createDirectories(root.resolve("disk/driver"));
    Path stateDir = Files.createSymbolicLink(root.resolve("driver"), real);
    HostpathDriver driver = Await.result(HostpathDriver.start(vertx, config(stateDir)));
    try {
      assertTrue(Files.isRegularFile(real.resolve("state/state.log")));
      assertTrue(Files.isDirectory(real.resolve("volumes")));
    } finally {
      Await.result(driver.stop());
    }
  }
}
