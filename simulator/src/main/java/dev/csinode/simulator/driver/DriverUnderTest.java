package dev.csinode.simulator.driver;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import dev.csinode.plugins.registrar.Registrar;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/** The CSI driver a simulation runs the node against, and how the {@link DriverHarness} reaches it. */
public sealed interface DriverUnderTest {

  /** What the driver is, for messages. */
  String describe();

  /** Starts the registrar beside a driver the harness runs; {@link Registrar#start}'s arguments. */
  @FunctionalInterface
  interface RegistrarStarter {
    Future<Registrar> start(Vertx vertx, UnixEndpoint csiAddress, String kubeletRegistrationPath, Path registrationDir,
                            Duration waitForDriver, Duration callTimeout);
  }

  /** A driver someone else runs, reached at its socket: it cannot be restarted. */
  record Endpoint(UnixEndpoint endpoint) implements DriverUnderTest {
    public Endpoint {
      Objects.requireNonNull(endpoint, "endpoint");
    }

    @Override
    public String describe() {
      return "the driver at " + endpoint.url();
    }
  }

  /**
   * A driver someone else runs, found as the kubelet finds drivers: the one CSI plugin registration socket in the
   * directory names its endpoint. It cannot be restarted.
   */
  record RegistrationDir(Path dir) implements DriverUnderTest {
    public RegistrationDir {
      dir = Objects.requireNonNull(dir, "dir").toAbsolutePath().normalize();
    }

    @Override
    public String describe() {
      return "the driver registered in " + dir;
    }
  }

  /**
   * A driver the simulator starts: {@value DriverProcess#ENDPOINT_PLACEHOLDER} in any argument stands for the
   * socket path the harness chooses. Restarted with the same command after a SIGKILL of its whole process tree.
   */
  record Command(List<String> argv) implements DriverUnderTest {
    private static final int LONG_ARGUMENT = 160;

    public Command {
      argv = List.copyOf(argv);
      if (argv.isEmpty() || argv.get(0).isBlank()) {
        throw new IllegalArgumentException("the driver command is empty");
      }
    }

    @Override
    public String describe() {
      return shown(argv);
    }

    /** "driver command ARGS", a long argument (a class path) cut short so that a message stays readable. */
    static String shown(List<String> argv) {
      return "driver command " + String.join(" ", argv.stream()
          .map(a -> a.length() <= LONG_ARGUMENT ? a : a.substring(0, LONG_ARGUMENT / 2) + "...(" + a.length() + " characters)").toList());
    }
  }

  /**
   * A driver in this process (the bundled hostpath driver, the in-memory driver, a test's broken driver); a restart
   * stops it and starts it again on the same socket and state directory.
   *
   * @param mounts the simulated mount table the driver mounts in (one built on the in-memory driver), which the node
   *               then shares: no root, no mount(2); null: the driver makes real mounts
   * @param registrar what registers the driver with the node (a test's broken registrar); null: the project's
   *               {@link dev.csinode.plugins.registrar.Registrar}, as node-driver-registrar does it
   */
  record InProcess(BundledDriver driver, SimulatedMounts mounts, RegistrarStarter registrar) implements DriverUnderTest {
    public InProcess {
      Objects.requireNonNull(driver, "driver");
    }

    public InProcess(BundledDriver driver, SimulatedMounts mounts) {
      this(driver, mounts, null);
    }

    /** A driver that makes real mounts. */
    public InProcess(BundledDriver driver) {
      this(driver, null, null);
    }

    @Override
    public String describe() {
      return "the in-process driver " + driver.name();
    }
  }
}
