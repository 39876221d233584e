package dev.csinode.simulator.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class DriverUnderTestTest {

  @Test
  void theEndpointPlaceholderIsReplacedInEveryArgumentWhereverItStands() {
    assertEquals(List.of("driver", "--endpoint=unix:///w/driver/csi.sock", "/w/driver/csi.sock", "--v=5"),
        DriverProcess.argv(List.of("driver", "--endpoint=unix://{endpoint}", "{endpoint}", "--v=5"), Path.of("/w/driver/csi.sock")));
  }

  @Test
  void aCommandIsCopiedAndMustNameAProgram() {
    List<String> argv = new ArrayList<>(List.of("driver", "{endpoint}"));
    var command = new DriverUnderTest.Command(argv);
    argv.add("--changed");
    assertEquals(List.of("driver", "{endpoint}"), command.argv());
    assertEquals("the driver command is empty", assertThrows(IllegalArgumentException.class,
        () -> new DriverUnderTest.Command(List.of())).getMessage());
    assertEquals("the driver command is empty", assertThrows(IllegalArgumentException.class,
        () -> new DriverUnderTest.Command(List.of(" "))).getMessage());
  }

  @Test
  void aLongArgumentIsCutShortInMessages() {
    String classpath = "/x".repeat(100);
    assertEquals("driver command java -cp " + "/x".repeat(40) + "...(200 characters) Main {endpoint}",
        new DriverUnderTest.Command(List.of("java", "-cp", classpath, "Main", "{endpoint}")).describe());
  }

  @Test
  void aRegistrationDirIsAbsolute() {
    assertEquals(Path.of("").toAbsolutePath().resolve("reg"), new DriverUnderTest.RegistrationDir(Path.of("reg/./")).dir());
  }
}
