package dev.csinode.simulator.driver;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.LoopDevices;
import dev.csinode.mount.MountInfo;
import dev.csinode.mount.MountTable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The harness in front of the bundled hostpath driver, in this process and as a command, with a real simulated node. */
class DriverHarnessEndToEndTest extends HarnessFixture {

  @Test
  void inProcessDriverIsRegisteredThroughTheProxyAndItsPodSurvivesAgentRestartsAndARebootIsAFreshStart() throws Exception {
    harness = await(DriverHarness.start(vertx, new DriverUnderTest.InProcess(BundledHostpathDriver.INSTANCE), work, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals(HOSTPATH, harness.driverName());
    assertTrue(harness.stageUnstage());
    assertTrue(harness.canRestart());
    assertEquals(harness.nodeEndpoint().url(), agent().drivers().get(HOSTPATH).orElseThrow().endpoint(),
        "the node reaches the driver through the proxy");
    assertNotEquals(harness.nodeEndpoint(), harness.driverEndpoint());

    apply(CSI_DRIVER);
    apply(podWithClaim("app", "uid-app", createVolume("vol-app", "filesystem")));
    podReady("app");
    assertEquals(1, csiCalls("NodeStageVolume"));
    assertEquals(1, csiCalls("NodePublishVolume"));
    String firstBoot = node.bootId();

    for (boolean crash : new boolean[] {false, true}) {
      await(node.restart(crash));
      podReady("app");
      await(agent().volumeManager().idle(Duration.ofSeconds(30)));
      String what = crash ? "after a crash" : "after a clean restart";
      assertEquals(0, csiCalls("NodeStageVolume"), what + " the journal says the volume is staged");
      assertEquals(0, csiCalls("NodePublishVolume"), what + " the journal says the volume is published");
      assertEquals(firstBoot, node.bootId());
    }

    await(harness.restartDriver()); // stopped and started on the same socket and state: the node sees no change
    assertTrue(agent().pod("default", "app").orElseThrow().ready());
    assertEquals(0, csiCalls("NodeStageVolume"));

    await(harness.stopDriver());
    assertEquals(null, harness.registrationSocket());
    await(node.reboot());
    assertNotEquals(firstBoot, node.bootId());
    assertEquals(List.of(), MountTable.read().under(tmp).stream().map(MountInfo::mountPoint).toList(), "a reboot leaves no mount");
    assertEquals(List.of(), LoopDevices.list().stream().filter(l -> l.contains(tmp.toString())).toList(), "nor a loop device");
    await(harness.startDriver());
    podReady("app");
    assertEquals(1, csiCalls("NodeStageVolume"), "staged afresh after the reboot");
    assertEquals(1, csiCalls("NodePublishVolume"), "published afresh after the reboot");
  }

  @Test
  void commandDriverIsKilledWithItsWholeProcessTreeAndRestartedWithTheSameCommand() throws Exception {
    Path state = tmp.resolve("driver-state");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    // Not exec'ed, and with work after it: the shell stays the driver's parent, so a kill must reach the tree.
    List<String> command = List.of("/bin/sh", "-c",
        "\"$0\" -Djava.io.tmpdir=\"$3\" -cp \"$1\" " + HostpathDriverMain.class.getName() + " {endpoint} \"$2\" " + NODE
            + "; echo driver exited $?",
        java, classpath, state.toString(), tmp.toString());
    harness = await(DriverHarness.start(vertx, new DriverUnderTest.Command(command), work, registry(), NODE, PassThroughProxy.starter()));
    assertEquals(HOSTPATH, harness.driverName());
    assertTrue(harness.canRestart());
    assertTrue(Files.readString(work.resolve("driver.log")).contains("hostpath driver serving " + harness.driverEndpoint().path()),
        "the driver's output goes to its log in the work dir");
    apply(CSI_DRIVER);
    apply(podWithInlineVolume("one", "uid-one"));
    podReady("one");

    List<ProcessHandle> before = driverProcesses();
    assertEquals(2, before.size(), "the shell and the driver: " + before);
    await(harness.restartDriver());
    before.forEach(p -> assertFalse(p.isAlive(), "still running after the restart: " + p.info()));
    assertEquals(2, driverProcesses().size(), "the same command again");
    assertTrue(agent().pod("default", "one").orElseThrow().ready());
    apply(podWithInlineVolume("two", "uid-two"));
    podReady("two"); // published by the restarted driver, through the registration that stayed

    List<ProcessHandle> after = driverProcesses();
    await(harness.stop());
    harness = null;
    after.forEach(p -> assertFalse(p.isAlive(), "still running after the harness stopped: " + p.info()));
    assertFalse(Files.exists(work.resolve("driver").resolve("csi.sock")), "the driver's socket, left by the kill, is removed");
    assertFalse(Files.exists(work.resolve("proxy.sock")));
    try (var left = Files.list(registry())) {
      assertEquals(List.of(), left.toList(), "the registration socket is gone");
    }
  }

  @Test
  void aCommandThatNeverServesOrExitsFailsWithItsLog() throws Exception {
    var endpoint = unix(work.resolve("never.sock"));
    DriverProcess never = new DriverProcess(vertx, List.of("/bin/sh", "-c", "echo listening soon on {endpoint}; sleep 600; echo done"),
        endpoint, work.resolve("never.log"), Duration.ofSeconds(2));
    String message = failure(never.start());
    assertTrue(message.startsWith("driver command /bin/sh -c echo listening soon on {endpoint}; sleep 600; echo done did not serve "
        + endpoint.path() + " within 2 s; its log: " + work.resolve("never.log")), message);
    assertTrue(message.contains("listening soon on " + endpoint.path()), message);
    assertFalse(never.alive(), "killed once given up on");
    assertEquals(List.of(), driverProcesses(), "nothing of it left");

    String exited = failure(DriverHarness.start(vertx, new DriverUnderTest.Command(List.of("/bin/sh", "-c", "echo no such flag >&2; exit 3")),
        work, registry(), NODE, PassThroughProxy.starter()));
    assertTrue(exited.contains("exited with status 3 before it served " + work.resolve("driver").resolve("csi.sock")), exited);
    assertTrue(exited.contains("no such flag"), exited);
    try (var left = Files.list(registry())) {
      assertEquals(List.of(), left.toList(), "nothing registered");
    }

    Path deep = work.resolve("x".repeat(100));
    String tooLong = failure(DriverHarness.start(vertx, new DriverUnderTest.Command(List.of("/bin/true")), deep, registry(), NODE,
        PassThroughProxy.starter()));
    assertEquals("the socket path " + deep.resolve("driver/csi.sock") + " is longer than the 107 bytes a UNIX socket address holds; "
        + "choose a shorter work directory", tooLong);
  }

  /**
   * Processes of this JVM whose command line names the test's directory: the drivers it started. Read from /proc:
   * ProcessHandle.Info has no arguments when argv[0] is not the executable's path (/bin/sh is dash).
   */
  private List<ProcessHandle> driverProcesses() {
    return ProcessHandle.current().descendants().filter(p -> {
      try {
        return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"))).contains(tmp.toString());
      } catch (java.io.IOException e) {
        return false; // gone
      }
    }).toList();
  }
}
