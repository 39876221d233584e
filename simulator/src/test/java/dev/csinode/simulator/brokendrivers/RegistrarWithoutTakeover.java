package dev.csinode.simulator.brokendrivers;

import dev.csinode.plugins.registrar.Registrar;
import dev.csinode.simulator.driver.DriverUnderTest;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Test double, deliberately broken: a registrar that listens on its registration socket as a plain bind(2) does,
 * without first removing a dead socket a crash left at that path. After a reboot or a SIGKILL it cannot start
 * ("Address already in use") and the driver never registers (node-driver-registrar#206, #21). Otherwise the
 * project's registrar.
 */
final class RegistrarWithoutTakeover {
  private RegistrarWithoutTakeover() {}

  /** The registrar for the driver of that name (its socket is {@code <dir>/<name>-reg.sock}). */
  static DriverUnderTest.RegistrarStarter forDriver(String driverName) {
    return (vertx, csiAddress, announced, registrationDir, waitForDriver, callTimeout) -> vertx.executeBlocking(() -> {
      Path socket = registrationDir.resolve(driverName + "-reg.sock");
      if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
        return null; // a free path: as the project's registrar (a socket made here would be one the node sees)
      }
      try (ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        listener.bind(UnixDomainSocketAddress.of(socket)); // what it does over a file left at its path: fails
      } catch (IOException e) {
        throw new IOException("cannot listen on " + socket + ": " + e.getMessage() + " (deliberately not taking over a dead socket)", e);
      }
      Files.delete(socket); // gone in between after all: the project's registrar listens there now
      return null;
    }, false).compose(v -> Registrar.start(vertx, csiAddress, announced, registrationDir, waitForDriver, callTimeout));
  }
}
