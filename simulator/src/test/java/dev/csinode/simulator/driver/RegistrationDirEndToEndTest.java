package dev.csinode.simulator.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import dev.csinode.plugins.registrar.Registrar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A driver someone else runs, found through its registration socket as the kubelet finds it. */
class RegistrationDirEndToEndTest extends HarnessFixture {
  private final List<Registrar> registrars = new ArrayList<>();
  private final List<HostpathDriver> drivers = new ArrayList<>();

  /** A hostpath driver and its registrar serving in dir, like a driver pod with node-driver-registrar. */
  private Registrar externalDriver(String name, Path dir) throws Exception {
    Path home = Files.createDirectories(tmp.resolve("ext-" + name.substring(0, name.indexOf('.'))));
    UnixEndpoint socket = new UnixEndpoint(home.resolve("csi.sock"));
    drivers.add(await(HostpathDriver.start(vertx, new HostpathConfig(socket, NODE, home.resolve("state"), name, 0, 1L << 30, false))));
    Registrar r = await(Registrar.start(vertx, socket, socket.path().toString(), dir, Duration.ofSeconds(10), Duration.ofSeconds(5)));
    registrars.add(r);
    return r;
  }

  @AfterEach
  void stopExternalDrivers() throws Exception {
    if (harness != null) {
      await(harness.stop());
      harness = null;
    }
    for (Registrar r : registrars) {
      await(r.stop());
    }
    for (HostpathDriver d : drivers) {
      await(d.stop());
    }
  }

  @Test
  void theOneDriverInTheDirectoryIsFoundToldItIsRegisteredAndServesTheNodeButCannotBeRestarted() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("ext-registry"));
    Registrar registrar = externalDriver(HOSTPATH, dir);
    Files.writeString(dir.resolve("notes.txt"), "not a socket"); // passed over, as the kubelet passes it over
    assertFalse(registrar.accepted().isComplete());

    harness = await(DriverHarness.start(vertx, new DriverUnderTest.RegistrationDir(dir), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals(HOSTPATH, harness.driverName());
    assertEquals(tmp.resolve("ext-hostpath").resolve("csi.sock"), harness.driverEndpoint().path());
    await(registrar.accepted()); // NotifyRegistrationStatus(true), as from the kubelet
    assertFalse(harness.canRestart());
    String refused = failure(harness.restartDriver());
    assertTrue(refused.startsWith("the driver registered in " + dir + " is run by someone else, so the simulator cannot stop or start it"),
        refused);
    assertTrue(failure(harness.stopDriver()).contains("cannot stop or start it"));

    apply(CSI_DRIVER);
    apply(podWithInlineVolume("app", "uid-app"));
    podReady("app");
    assertEquals(harness.nodeEndpoint().url(), agent().drivers().get(HOSTPATH).orElseThrow().endpoint());
  }

  @Test
  void anEndpointIsUsedAsItIsAndCannotBeRestarted() throws Exception {
    externalDriver(HOSTPATH, Files.createDirectories(tmp.resolve("ext-registry")));
    UnixEndpoint socket = new UnixEndpoint(tmp.resolve("ext-hostpath").resolve("csi.sock"));
    harness = await(DriverHarness.start(vertx, new DriverUnderTest.Endpoint(socket), work, registry(), NODE, PassThroughProxy.starter()));
    assertEquals(HOSTPATH, harness.driverName());
    assertEquals(socket, harness.driverEndpoint());
    assertEquals(harness.nodeEndpoint().url(), agent().drivers().get(HOSTPATH).orElseThrow().endpoint());
    assertTrue(failure(harness.startDriver()).startsWith("the driver at " + socket.url() + " is run by someone else"));
    await(harness.stop());
    harness = null;
    assertTrue(drivers.get(0).config() != null && dev.csinode.grpc.SocketFiles.isServed(socket.path()),
        "the harness leaves a driver it did not start running");
  }

  @Test
  void anEmptyDirectoryOrTwoDriversAreAClearError() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("ext-registry"));
    String empty = failure(DriverHarness.start(vertx, new DriverUnderTest.RegistrationDir(dir), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals("no CSI driver registered in " + dir + ", exactly one expected; found: no socket", empty);

    String missing = failure(DriverHarness.start(vertx, new DriverUnderTest.RegistrationDir(dir.resolve("nope")), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals("the driver registration directory " + dir.resolve("nope") + " does not exist or is not a directory", missing);

    externalDriver("a.example.com", dir);
    externalDriver("b.example.com", dir);
    String two = failure(DriverHarness.start(vertx, new DriverUnderTest.RegistrationDir(dir), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals("2 CSI drivers registered in " + dir + ", exactly one expected; found: a.example.com-reg.sock: CSIPlugin plugin "
        + "'a.example.com'; b.example.com-reg.sock: CSIPlugin plugin 'b.example.com'", two);
    try (var left = Files.list(registry())) {
      assertEquals(List.of(), left.toList(), "nothing registered with the node");
    }
  }

  @Test
  void aDriverThatCannotBeReachedIsNeverToldItIsNotRegistered() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("ext-registry"));
    Registrar registrar = externalDriver(HOSTPATH, dir);
    await(drivers.remove(0).stop()); // its registrar stays: the endpoint it announces is gone
    String error = failure(DriverHarness.start(vertx, new DriverUnderTest.RegistrationDir(dir), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertTrue(error.contains("which is not a socket on this host"), error);
    // node-driver-registrar exits on NotifyRegistrationStatus(false), and the directory may be a live kubelet's.
    assertFalse(registrar.rejection().failed(), "told it is not registered");
  }
}
