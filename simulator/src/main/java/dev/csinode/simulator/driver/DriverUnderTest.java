package dev.csinode.simulator.driver;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.plugins.registrar.BundledDriver;
import java.nio.file.Path;
import java.util.List;

/** Stand-in (engine branch) for the harness helper's DriverUnderTest; the merge takes theirs. */
public sealed interface DriverUnderTest {
  record Endpoint(UnixEndpoint endpoint) implements DriverUnderTest {}

  record RegistrationDir(Path dir) implements DriverUnderTest {}

  record Command(List<String> argv) implements DriverUnderTest {}

  record InProcess(BundledDriver driver) implements DriverUnderTest {}
}
