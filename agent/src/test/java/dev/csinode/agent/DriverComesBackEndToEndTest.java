package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.agent.status.DriverStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.hostpath.HostpathConfig;
import dev.csinode.hostpath.HostpathDriver;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * Regression (issue 11, C10): a volume that failed because its driver was away waited out its whole backoff
 * (114 s of 122 s) although the driver was back in 2 s. With a 60 s first backoff here, a volume published within
 * {@link #BACK_WITHIN} of the driver's return was retried because of it, not because its backoff ended.
 */
class DriverComesBackEndToEndTest extends AgentFixture {
  static final Duration BACKOFF = Duration.ofSeconds(60);
  static final Duration BACK_WITHIN = Duration.ofSeconds(15);

  @Override
  VolumeManager.Options options() {
    return new VolumeManager.Options(16, BACKOFF, BACKOFF.multipliedBy(2), Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofMinutes(1), true);
  }

  @Override
  Agent newAgent() {
    return new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE,
        PluginManager.Options.defaults().withProbeInterval(Duration.ofMillis(200)), manifests, options(), "127.0.0.1:0", false));
  }

  void ephemeralDriver(String name) throws Exception {
    write(name + ".yaml", """
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: %s}
        spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Ephemeral]}
        """.formatted(name));
  }

  static String inline(String driver) {
    return """
        - name: data
          csi:
            driver: %s
        """.formatted(driver);
  }

  /** Waits for the pod's volume to fail with this error, and checks its retry is a whole backoff away. */
  PodVolume failedWith(String podKey, String error) throws InterruptedException {
    eventually(() -> pod(podKey).map(p -> p.volumes().get(0).lastError() != null && p.volumes().get(0).lastError().contains(error))
        .orElse(false), () -> "" + pod(podKey));
    PodVolume v = pod(podKey).orElseThrow().volumes().get(0);
    assertTrue(Duration.between(Instant.now(), Instant.parse(v.nextRetryAt())).compareTo(BACKOFF.minus(BACK_WITHIN)) > 0,
        "the retry is far away: " + v);
    return v;
  }

  static void within(Duration bound, BooleanSupplier condition, Supplier<String> describe) throws InterruptedException {
    long deadline = System.nanoTime() + bound.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not reached within " + bound.toSeconds() + " s of the driver's return: " + describe.get());
      }
      Thread.sleep(10);
    }
  }

  @Test
  void aVolumeWaitingForItsDriverToRegisterIsPublishedAsSoonAsItRegisters() throws Exception {
    String name = "late.example.com";
    ephemeralDriver(name);
    write("pod-late.yaml", pod("late", "cccccccc-aaaa-4bbb-8ccc-000000000001", inline(name)));
    failedWith("default/late", "not registered");
    RunningDriver d = startDriver(name);
    try {
      eventually(() -> agent.drivers().get(name).isPresent(), () -> "not registered: " + agent.status().drivers());
      within(BACK_WITHIN, () -> ready("default/late"), () -> "" + pod("default/late"));
      Files.delete(manifests.resolve("pod-late.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    } finally {
      d.stop();
    }
  }

  @Test
  void aVolumeThatFailedWhileItsDriverWasDownIsPublishedAsSoonAsTheDriverAnswersAgain() throws Exception {
    String name = "flaky.example.com";
    HostpathConfig cfg = new HostpathConfig(new UnixEndpoint(root.resolve("plugins").resolve(name).resolve("csi.sock")), "node-e2e",
        root.resolve("plugins").resolve(name).resolve("state"), name, 0, 1L << 30, false);
    HostpathDriver driver = Await.result(HostpathDriver.start(vertx, cfg));
    var registrar = register(cfg.endpoint().path());
    try {
      eventually(() -> agent.drivers().get(name).isPresent(), () -> "not registered: " + agent.status().drivers());
      ephemeralDriver(name);
      // The driver goes; its registrar stays (as node-driver-registrar in the same pod does), so it stays registered.
      Await.result(driver.stop());
      eventually(() -> row(name).healthy() == Boolean.FALSE, () -> "still healthy: " + row(name));
      DriverStatus dead = row(name);
      assertEquals("registered", dead.state());
      assertTrue(dead.reason().contains("Probe on unix://" + cfg.endpoint().path()) && dead.reason().contains("UNAVAILABLE"),
          "a dead driver's status says why: " + dead);

      write("pod-flaky.yaml", pod("flaky", "cccccccc-aaaa-4bbb-8ccc-000000000002", inline(name)));
      failedWith("default/flaky", "UNAVAILABLE");
      driver = Await.result(HostpathDriver.start(vertx, cfg)); // back, on the same socket
      within(BACK_WITHIN, () -> ready("default/flaky"), () -> "" + pod("default/flaky") + "; driver " + row(name));
      assertEquals("", row(name).reason());
      Files.delete(manifests.resolve("pod-flaky.yaml"));
      eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    } finally {
      Await.result(registrar.stop());
      Await.result(driver.stop());
    }
  }

  DriverStatus row(String name) {
    return agent.status().drivers().stream().filter(d -> name.equals(d.name())).findFirst().orElseThrow();
  }
}
