package dev.csinode.simulator.checkdriver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountTable;
import dev.csinode.simulator.brokendrivers.NonIdempotentStageDriverMain;
import dev.csinode.simulator.driver.DriverUnderTest;
import dev.csinode.simulator.driver.HostpathDriverMain;
import dev.csinode.simulator.invariants.IdempotentRepeat;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.testing.PrivateMountNamespace;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * check-driver's work against drivers run as commands, as a driver's CI runs it (root, private mount namespace): the
 * bundled hostpath driver passes, a driver whose NodeStageVolume is not idempotent fails with that check and its hint.
 * A few scenarios only (--scenario), to stay fast.
 */
class CheckDriverEndToEndTest {
  private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();
  private static final String CLASSPATH = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));

  @TempDir Path dir;

  private static DriverUnderTest.Command javaMain(Class<?> main, String... args) {
    return new DriverUnderTest.Command(Stream.concat(Stream.of(JAVA, "-cp", CLASSPATH, main.getName()),
        Stream.of(args)).toList());
  }

  /** What the command line does: scenarios, probe, selection, run, report. */
  private record Ran(DriverCapabilities capabilities, List<CheckDriver.Entry> entries, String text, int status) {
    Map<String, CheckDriver.Verdict> verdicts() {
      return entries.stream().collect(Collectors.toMap(e -> e.decision().name(), CheckDriver.Entry::verdict));
    }
  }

  private Ran check(DriverUnderTest driver, Path work, String... only) throws Exception {
    CheckDriver check = new CheckDriver(new CheckDriver.Options(driver, Scenario.Suite.BASIC, List.of(only), work, Duration.ofSeconds(30)));
    List<Scenario> scenarios = check.scenarios();
    DriverCapabilities caps = check.probe();
    List<CheckDriver.Entry> entries = check.run(check.select(scenarios, caps));
    return new Ran(caps, entries, CheckReport.render(caps, Scenario.Suite.BASIC, entries, work), CheckReport.status(entries));
  }

  @Test
  void theHostpathDriverRunAsACommandPassesTheBasicSuiteAndTheRestIsSkippedWithReasons() throws Exception {
    PrivateMountNamespace.require();
    Path work = dir.resolve("w");
    Ran ran = check(javaMain(HostpathDriverMain.class, "{endpoint}", "state", "simulated-node"), work,
        "inline-ephemeral", "stage-fails-then-recovers", "node-scale");
    assertEquals("hostpath.csinode.dev", ran.capabilities().name());
    assertTrue(ran.capabilities().node().contains("STAGE_UNSTAGE_VOLUME"), ran.capabilities().toString());
    assertTrue(ran.capabilities().controllerService());
    assertEquals(CheckReport.PASSED, ran.status(), ran.text());
    assertEquals(Map.of("inline-ephemeral", CheckDriver.Verdict.PASS, "stage-fails-then-recovers", CheckDriver.Verdict.SKIP,
        "node-scale", CheckDriver.Verdict.SKIP), ran.verdicts(), ran.text());
    assertTrue(ran.text().contains("\ninline-ephemeral           PASS\n"), ran.text());
    assertTrue(ran.text().contains("\nnode-scale                 SKIP    skipped: scale scenario, run it with simulate\n"), ran.text());
    assertTrue(ran.text().contains("\nstage-fails-then-recovers  SKIP    skipped: suite full (give --suite full)\n"), ran.text());
    assertTrue(ran.text().endsWith("\nPASS: 1 passed, 0 failed, 0 errors, 2 skipped\n"), ran.text());
    assertTrue(Files.readString(work.resolve(CheckDriver.PROBE_DIR).resolve("driver.log")).contains("hostpath driver serving"),
        "the probe started the command with {endpoint} replaced");
    assertTrue(MountTable.read().under(dir).isEmpty(), "nothing left mounted: " + MountTable.read().under(dir));
    assertTrue(LoopDevices.list().stream().noneMatch(l -> l.contains(dir.toString())), "no loop device left");
  }

  @Test
  void aDriverWhoseStageIsNotIdempotentFailsThatCheckWithItsHintInTheTextAndJUnit() throws Exception {
    PrivateMountNamespace.require();
    Path work = dir.resolve("w");
    Ran ran = check(javaMain(NonIdempotentStageDriverMain.class, "{endpoint}", "state"), work, "block-volume");
    assertEquals(CheckReport.FAILED, ran.status(), ran.text());
    assertEquals(Map.of("block-volume", CheckDriver.Verdict.FAIL), ran.verdicts(), ran.text());
    String hint = new IdempotentRepeat().hint();
    assertTrue(ran.text().matches("(?s).*\nblock-volume  FAIL    failed: [^\n]*invariant idempotent-repeat.*"), ran.text());
    assertTrue(ran.text().matches("(?s).*\n  invariant idempotent-repeat\n    idempotent-repeat on volume [^\n]*ALREADY_EXISTS[^\n]*\n"
        + "    hint: " + Pattern.quote(hint) + "\n.*"), ran.text());
    Path junit = dir.resolve("check.xml");
    CheckReport.writeJUnit(ran.entries(), work, junit);
    String xml = Files.readString(junit);
    assertTrue(xml.contains("invariant idempotent-repeat"), xml);
    assertTrue(xml.contains("hint: " + hint), xml);
  }

  @Test
  void anEndpointNobodyServesCannotBeProbedAndSaysSo() throws ScenarioException {
    Path socket = dir.resolve("nobody/csi.sock");
    CheckDriver check = new CheckDriver(new CheckDriver.Options(new DriverUnderTest.Endpoint(new UnixEndpoint(socket)),
        Scenario.Suite.BASIC, List.of(), dir.resolve("w"), Duration.ofSeconds(30)));
    CapabilityProbe.Failure e = assertThrows(CapabilityProbe.Failure.class, check::probe);
    assertEquals("no socket at " + socket + ": start the driver first (or give it as --driver-command)", e.getMessage());
  }

  @Test
  void aCommandThatExitsBeforeItServesCannotBeProbedAndItsLogIsNamed() {
    CheckDriver check = new CheckDriver(new CheckDriver.Options(new DriverUnderTest.Command(List.of("/bin/sh", "-c",
        "echo no driver here; exit 3")), Scenario.Suite.BASIC, List.of(), dir.resolve("w"), Duration.ofSeconds(30)));
    CapabilityProbe.Failure e = assertThrows(CapabilityProbe.Failure.class, check::probe);
    assertTrue(e.getMessage().contains("exited with status 3 before it served"), e.getMessage());
    assertTrue(e.getMessage().contains("no driver here"), e.getMessage());
  }
}
