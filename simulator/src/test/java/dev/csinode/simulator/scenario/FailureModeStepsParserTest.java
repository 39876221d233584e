package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.NoSuchFileException;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The steps of the restart failure modes: stale-registration, remove-vol-data, restart-agent forget, stop/start-driver. */
@Tag("unit")
class FailureModeStepsParserTest {
  private static final String HEAD = """
      name: failure-modes
      description: one step under test
      steps:
      - pause: 1s
      """;

  private static Step parseStep(String step) throws ScenarioException {
    Scenario s = ScenarioParser.parse("test.yaml", HEAD + step, relative -> {
      throw new NoSuchFileException(relative);
    });
    return s.steps().get(1).step();
  }

  /** The refusal's message; every refusal names the file and the step's line (5: the step after the pause). */
  private static String refused(String step) {
    String message = assertThrows(ScenarioException.class, () -> parseStep(step)).getMessage();
    assertTrue(message.startsWith("test.yaml:5:"), message);
    return message;
  }

  private static void refused(String step, String part) {
    String message = refused(step);
    assertTrue(message.contains(part), message);
  }

  @Test
  void staleRegistrationTakesPlainNamesAndTheDriverPlaceholder() throws ScenarioException {
    assertEquals(new Step.StaleRegistration(List.of("{{driver}}-reg.sock", "gone.example.com-reg.sock"), List.of("notes.txt")),
        parseStep("- stale-registration: {sockets: [\"{{driver}}-reg.sock\", gone.example.com-reg.sock], files: [notes.txt]}\n"));
    assertEquals(new Step.StaleRegistration(List.of(), List.of("..x")), parseStep("- stale-registration: {files: [..x]}\n"));
  }

  @Test
  void staleRegistrationRefusesNamesThatLeaveTheDirectory() {
    for (String bad : List.of("\"../evil.sock\"", "\"a/b.sock\"", "\"..\"", "\".\"", "\"/etc/passwd\"", "\"a\\0b\"")) {
      String message = refused("- stale-registration: {sockets: [" + bad + "]}\n");
      assertTrue(message.contains("stale-registration: ") && message.contains("must be a plain file name"), message);
    }
    refused("- stale-registration: {files: [\"sub/notes.txt\"]}\n", "must be a plain file name");
    refused("- stale-registration: {files: [\"\"]}\n", "an empty name");
    refused("- stale-registration: {}\n", "name the litter");
    refused("- stale-registration: {sockets: [a.sock], files: [a.sock]}\n", "\"a.sock\" is named twice");
    refused("- stale-registration: {sockets: [\"{{name}}.sock\"]}\n", "unknown placeholder {{name}}");
    refused("- stale-registration: {socket: [a.sock]}\n", "unknown key \"socket\"");
  }

  @Test
  void removeVolDataNeedsAPodAndAVolumeName() throws ScenarioException {
    assertEquals(new Step.RemoveVolData("default/a", "data"), parseStep("- remove-vol-data: {pod: default/a, volume: data}\n"));
    refused("- remove-vol-data: {volume: data}\n", "remove-vol-data: pod is missing");
    refused("- remove-vol-data: {pod: a, volume: data}\n", "pod \"a\" is not namespace/name");
    refused("- remove-vol-data: {pod: default/a}\n", "volume is missing");
    refused("- remove-vol-data: {pod: default/a, volume: ../data}\n", "is not a pod volume's name");
  }

  @Test
  void restartAgentForgetsPodsByNamespaceAndName() throws ScenarioException {
    assertEquals(new Step.RestartAgent(true, List.of("default/a", "other/b")),
        parseStep("- restart-agent: {crash: true, forget: [default/a, other/b]}\n"));
    assertEquals(new Step.RestartAgent(false), parseStep("- restart-agent:\n"));
    refused("- restart-agent: {crash: true, forget: [a]}\n", "restart-agent: pod \"a\" is not namespace/name");
    refused("- restart-agent: {crash: false, forget: [default/a, default/a]}\n", "forget names pod default/a twice");
  }

  @Test
  void stopAndStartDriverTakeNoArguments() throws ScenarioException {
    assertEquals(new Step.StopDriver(), parseStep("- stop-driver: {}\n"));
    assertEquals(new Step.StopDriver(), parseStep("- stop-driver:\n"));
    assertEquals(new Step.StartDriver(), parseStep("- start-driver: {}\n"));
    refused("- start-driver: {down: 5s}\n", "unknown key \"down\"");
  }
}
