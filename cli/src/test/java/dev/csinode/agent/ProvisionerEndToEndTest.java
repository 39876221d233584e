package dev.csinode.agent;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.api.AgentApi;
import dev.csinode.agent.operationexecutor.OperationExecutor;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.cli.Main;
import dev.csinode.csi.v1.ControllerGrpcClient;
import dev.csinode.csi.v1.ListVolumesRequest;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.mount.Mounter;
import dev.csinode.plugins.PluginManager;
import dev.csinode.testing.Await;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The provisioner in the running agent: bad claims stay with themselves, failures back off, reclaim survives restarts. */
class ProvisionerEndToEndTest extends AgentFixture {
  static final String FAST_CLASS = """
      apiVersion: storage.k8s.io/v1
      kind: StorageClass
      metadata: {name: fast}
      provisioner: hostpath.csinode.dev
      parameters: {kind: directory}
      """;

  static String claim(String name, String className, String accessModes, String storage) {
    return """
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: %s, namespace: default}
        spec: {storageClassName: %s, accessModes: %s, resources: {requests: {storage: "%s"}}}
        """.formatted(name, className, accessModes, storage);
  }

  /** B7: a claim that throws while evaluated (today: every change, forever) is that claim's error, and the node goes on. */
  @Test
  void badClaimsAreTheirOwnErrorsAndEverythingElseProceeds() throws Exception {
    write("class.yaml", FAST_CLASS);
    inlinePodReady("before", "b7000000-aaaa-4bbb-8ccc-000000000001");
    Path beforeTarget = Path.of(pod("default/before").orElseThrow().volumes().get(0).hostPath());

    StringBuilder bad = new StringBuilder(claim("umlaut", "fast", "[ReadWriteOnce]", "12Gü"))
        .append("---\n").append(claim("overflow", "fast", "[ReadWriteOnce]", "8Ei"))
        .append("---\n").append(claim("negative", "fast", "[ReadWriteOnce]", "-1Gi"));
    // More claims with a null access mode than there are creation slots: none may keep one.
    for (int i = 0; i < 70; i++) {
      bad.append("---\n").append(claim("nullmode-" + i, "fast", "[null]", "1Mi"));
    }
    write("bad-claims.yaml", bad.toString());
    write("pod-umlaut.yaml", pod("umlaut", "b7000000-aaaa-4bbb-8ccc-000000000002", claimVolume("umlaut")));
    write("pod-nullmode.yaml", pod("nullmode", "b7000000-aaaa-4bbb-8ccc-000000000003", claimVolume("nullmode-0")));

    // After them: a good claim is provisioned, a new pod is served, a removed pod is torn down.
    write("good.yaml", claim("good", "fast", "[ReadWriteOnce]", "1Mi"));
    write("pod-good.yaml", pod("good", "b7000000-aaaa-4bbb-8ccc-000000000004", claimVolume("good")));
    inlinePodReady("after", "b7000000-aaaa-4bbb-8ccc-000000000005");
    eventually(() -> ready("default/good"), () -> "" + pod("default/good"));
    Files.delete(manifests.resolve("before.yaml"));
    eventually(() -> !new Mounter().isMountPoint(beforeTarget) && pod("default/before").isEmpty(), () -> "the removed pod stays mounted");

    // Each bad object says what is wrong, with the object and the field: on its pod, in status, in the manifest errors.
    eventually(() -> pod("default/umlaut").map(p -> !p.errors().isEmpty()).orElse(false), () -> "" + pod("default/umlaut"));
    String umlaut = String.join("; ", pod("default/umlaut").orElseThrow().errors());
    assertTrue(umlaut.contains("claim default/umlaut: spec.resources.requests.storage '12Gü' is not a quantity"), umlaut);
    assertTrue(String.join("; ", pod("default/nullmode").orElseThrow().errors()).contains("claim default/nullmode-0: spec.accessModes[0] is null"),
        "" + pod("default/nullmode"));
    Map<String, String> claimErrors = new TreeMap<>();
    agent.status().provisioning().claims().forEach(c -> claimErrors.put(c.claim(), c.state() + ": " + c.lastError()));
    assertTrue(claimErrors.get("default/overflow").contains("'8Ei' is more than 9223372036854775807 bytes"), "" + claimErrors);
    assertTrue(claimErrors.get("default/negative").contains("'-1Gi' is negative"), "" + claimErrors);
    assertEquals(73, claimErrors.values().stream().filter(e -> e.startsWith("error: ")).count(), "" + claimErrors);
    assertTrue(agent.status().manifestErrors().stream().anyMatch(e -> e.contains("bad-claims.yaml document 1")
        && e.contains("PersistentVolumeClaim default/umlaut spec.resources.requests.storage '12Gü'")), "" + agent.status().manifestErrors());
    assertEquals(1, provisionedRecords().size(), "only the good claim got a volume: " + provisionedRecords());
  }

  /**
   * B8: a driver out of capacity is asked again on the backoff's schedule (here 100 ms doubling to 2 s), not on
   * every change of the sources (today: once per change, and thousands a second with many claims).
   */
  @Test
  void failedCreationsBackOffAndAreLoggedOnce() throws Exception {
    ProvisioningDriver full = new ProvisioningDriver(vertx, root.resolve("plugins/full.example.com/csi.sock"), "full.example.com");
    full.failCreates = GrpcStatus.RESOURCE_EXHAUSTED;
    var registrar = register(full.server.path());
    // Failures of volume operations, creations included, are logged by the executor that runs them.
    var logger = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(OperationExecutor.class);
    var lines = new ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent>();
    lines.start();
    logger.addAppender(lines);
    try {
      eventually(() -> agent.drivers().get("full.example.com").isPresent(), () -> "not registered");
      write("full.yaml", """
          apiVersion: storage.k8s.io/v1
          kind: StorageClass
          metadata: {name: full}
          provisioner: full.example.com
          ---
          """ + claim("big", "full", "[ReadWriteOnce]", "1Ti"));
      write("pod-big.yaml", pod("big", "b8000000-aaaa-4bbb-8ccc-000000000001", claimVolume("big")));
      eventually(() -> !full.creates.isEmpty(), () -> "no CreateVolume");
      long start = full.creates.get(0);
      // The sources change every 50 ms meanwhile.
      for (int i = 0; i < 80; i++) {
        write("noise-" + (i % 5) + ".yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: noise-" + (i % 5) + ", namespace: default}\n"
            + "stringData: {n: \"" + i + "\"}\n");
        Thread.sleep(50);
      }
      long end = start + TimeUnit.SECONDS.toNanos(4);
      List<Long> inWindow = full.creates.stream().filter(t -> t <= end).toList();
      // Tries at 0, 0.1, 0.3, 0.7, 1.5, 3.1 s (each after the previous failure plus its delay): at most 6 in 4 s.
      assertTrue(inWindow.size() >= 4 && inWindow.size() <= 6, "CreateVolume calls in 4 s: " + inWindow.size());
      for (int i = 1; i < inWindow.size(); i++) {
        long gapMs = TimeUnit.NANOSECONDS.toMillis(inWindow.get(i) - inWindow.get(i - 1));
        long delay = Math.min(2000, 100L << (i - 1));
        assertTrue(gapMs >= delay - 5, "try " + (i + 1) + " came " + gapMs + " ms after the previous one; the backoff is " + delay + " ms");
      }

      // Status and metrics, as for volume operations; the pod waits (the claim is being worked on), it is not in error.
      ProvisioningStatus.ClaimProvisioning c = agent.status().provisioning().claims().stream()
          .filter(x -> x.claim().equals("default/big")).findFirst().orElseThrow();
      assertTrue(c.state().equals("failed") || c.state().equals("provisioning"), "" + c);
      assertTrue(c.failures() >= 4 && c.lastError().contains("no capacity left") && c.driver().equals("full.example.com"), "" + c);
      var big = pod("default/big").orElseThrow();
      assertEquals(List.of(), big.errors());
      assertTrue(big.waiting().get(0).contains("CreateVolume with driver full.example.com failed") && big.waiting().get(0).contains("next try at"),
          "" + big.waiting());
      assertTrue(hasSample(scrape(), "storage_operation_duration_seconds_count", "operation_name=\"volume_provision\"",
          "status=\"fail-unknown\"", "volume_plugin=\"kubernetes.io/csi:full.example.com\""), "no volume_provision failures in the metrics");
      assertTrue(hasSample(scrape(), "csi_node_agent_provisioning_claims", "state=\"failed\"", "} 1.0")
          || hasSample(scrape(), "csi_node_agent_provisioning_claims", "state=\"provisioning\"", "} 1.0"), scrape());
      // The same error, however many tries: one line.
      var failures = lines.list.stream().filter(e -> e.getLevel() == ch.qos.logback.classic.Level.WARN
          && e.getFormattedMessage().startsWith("volume_provision of ")).map(e -> e.getFormattedMessage()).toList();
      assertEquals(1, failures.size(), "" + failures);
      assertTrue(failures.get(0).contains("no capacity left"), failures.get(0));

      // The driver has room again and says so: the claim is tried at once, not at the end of its backoff.
      full.failCreates = null;
      agent.volumeManager().context().runOnContext(v -> agent.volumeManager().provisioner().driverAvailable("full.example.com"));
      eventually(() -> agent.volumeManager().objects().claims().get("default/big").getSpec().getVolumeName() != null, () -> "not bound");
    } finally {
      logger.detachAppender(lines);
      Await.result(registrar.stop());
      Await.result(full.server.close());
    }
  }

  /** B8/C10: the backoff is reset when the driver comes back (registers again): the creation is retried at once. */
  @Test
  void aDriverThatIsAvailableAgainIsTriedAtOnce() throws Exception {
    Await.result(agent.stop());
    agent = new Agent(vertx, new Agent.Config(root, "node-e2e", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(), manifests,
        new VolumeManager.Options(16, Duration.ofSeconds(20), Duration.ofMinutes(2), Duration.ofMillis(200), Duration.ofSeconds(30)),
        null, false));
    Await.result(agent.start());
    ProvisioningDriver full = new ProvisioningDriver(vertx, root.resolve("plugins/full.example.com/csi.sock"), "full.example.com");
    full.failCreates = GrpcStatus.UNAVAILABLE;
    var registrar = register(full.server.path());
    try {
      eventually(() -> agent.drivers().get("full.example.com").isPresent(), () -> "not registered");
      write("full.yaml", "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: full}\nprovisioner: full.example.com\n---\n"
          + claim("later", "full", "[ReadWriteOnce]", "1Gi"));
      eventually(() -> agent.status().provisioning().claims().stream().anyMatch(c -> c.state().equals("failed")),
          () -> "" + agent.status().provisioning());
      // The driver goes and comes back (its registrar restarted): the claim is tried at once on its return.
      full.failCreates = null;
      Await.result(registrar.stop());
      eventually(() -> agent.drivers().get("full.example.com").isEmpty(), () -> "not deregistered");
      long asked = System.nanoTime();
      registrar = register(full.server.path());
      eventually(() -> agent.volumeManager().objects().claims().get("default/later").getSpec().getVolumeName() != null, () -> "not bound");
      assertTrue(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - asked) < 10, "waited for the 20 s backoff");
      assertEquals(2, full.creates.size());
    } finally {
      Await.result(registrar.stop());
      Await.result(full.server.close());
    }
  }

  /**
   * B12: a claim deletion the agent saw is recorded before anything else, and carried out after a restart (here the
   * driver is away when the claim goes, and the agent stops before it comes back).
   */
  @Test
  void anObservedClaimDeletionIsCarriedOutAfterARestart() throws Exception {
    String name = "reclaim.example.com";
    RunningDriver driver = startDriver(name);
    write("reclaim.yaml", """
        apiVersion: storage.k8s.io/v1
        kind: StorageClass
        metadata: {name: reclaim}
        provisioner: reclaim.example.com
        parameters: {kind: directory}
        ---
        apiVersion: storage.k8s.io/v1
        kind: CSIDriver
        metadata: {name: reclaim.example.com}
        spec: {attachRequired: false}
        """);
    write("claim.yaml", claim("doomed", "reclaim", "[ReadWriteOnce]", "1Mi"));
    write("pod.yaml", pod("user", "b1200000-aaaa-4bbb-8ccc-000000000001", claimVolume("doomed")));
    eventually(() -> ready("default/user"), () -> "" + pod("default/user"));
    String pv = provisionedRecords().iterator().next();
    assertEquals(1, volumeCount(name));
    Files.delete(manifests.resolve("pod.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());

    driver.stop();
    eventually(() -> agent.drivers().get(name).isEmpty(), () -> "still registered");
    Files.delete(manifests.resolve("claim.yaml"));
    eventually(() -> provisionedRecordValues().getOrDefault(pv, "").contains("\"phase\":\"Released\""),
        () -> "the release is not on record: " + provisionedRecordValues());
    eventually(() -> agent.status().provisioning().volumes().get(0).reason().contains("deleted once driver reclaim.example.com is registered"),
        () -> "" + agent.status().provisioning());

    // The agent goes before the driver is back; the next one deletes the volume as soon as it can.
    Await.result(agent.stop());
    driver = startDriver(name);
    try {
      assertEquals(1, volumeCount(name));
      agent = newAgent();
      Await.result(agent.start());
      eventually(() -> volumeCount(name) == 0, () -> "the released volume was not deleted after the restart: " + agent.status().provisioning());
      eventually(() -> provisionedRecords().isEmpty(), () -> "record kept: " + provisionedRecords());
    } finally {
      driver.stop();
    }
  }

  /**
   * B12: a volume whose claim went while the agent was not looking is Released, never deleted silently, and goes
   * only when asked ({@code pv delete}), which is refused while a claim is bound to it.
   */
  @Test
  void aVolumeWhoseClaimWentUnseenIsKeptUntilDeletedExplicitly() throws Exception {
    write("class.yaml", FAST_CLASS);
    write("claim.yaml", claim("lost", "fast", "[ReadWriteOnce]", "1Mi"));
    write("pod.yaml", pod("user", "b1200000-aaaa-4bbb-8ccc-000000000002", claimVolume("lost")));
    eventually(() -> ready("default/user"), () -> "" + pod("default/user"));
    String pv = provisionedRecords().iterator().next();
    var refused = assertThrows(AgentApi.ApiException.class, () -> Await.result(agent.deletePersistentVolume(pv)));
    assertEquals(409, refused.status());
    assertTrue(refused.getMessage().contains("is bound to claim default/lost"), refused.getMessage());

    Files.delete(manifests.resolve("pod.yaml"));
    eventually(() -> agent.volumeManager().volumes().isEmpty(), () -> "" + agent.volumeManager().volumes());
    Await.result(agent.stop());
    Files.delete(manifests.resolve("claim.yaml")); // while the agent is down
    agent = newAgent();
    Await.result(agent.start());
    eventually(() -> agent.drivers().get(DRIVER).isPresent(), () -> "driver");
    Await.result(agent.volumeManager().idle(Duration.ofSeconds(30)));
    ProvisioningStatus.ProvisionedVolume v = agent.status().provisioning().volumes().get(0);
    assertEquals(pv, v.name());
    assertEquals("Released", v.phase());
    assertTrue(v.reason().contains("has not been seen since the agent started") && v.reason().contains("pv delete " + pv), v.reason());
    assertEquals(1, driverVolumeCount(), "never deleted silently");
    assertTrue(hasSample(scrape(), "csi_node_agent_released_volumes", "} 1.0") || scrape().contains("csi_node_agent_released_volumes 1.0"),
        scrape());

    var listed = cli("pv", "get");
    assertTrue(listed.exitValue == 0 && listed.output.lines().anyMatch(l -> l.startsWith(pv) && l.contains("Released")
        && l.contains("default/lost")), listed.output);
    assertEquals(0, cli("pv", "delete", pv).exitValue);
    assertEquals(0, driverVolumeCount());
    eventually(() -> provisionedRecords().isEmpty(), () -> "" + provisionedRecords());
    var again = cli("pv", "delete", pv);
    assertEquals(1, again.exitValue);
    assertTrue(again.output.contains("no PersistentVolume " + pv + " was provisioned by this agent"), again.output);
  }

  record CliResult(int exitValue, String output) {}

  CliResult cli(String... args) throws Exception {
    var cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-cp",
        System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(List.of(args));
    cmd.addAll(List.of("--root-dir", root.toString()));
    Path out = Files.createTempFile(root, "cli", ".out");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    return new CliResult(p.exitValue(), Files.readString(out));
  }

  int volumeCount(String driver) {
    try (GrpcUnixClient c = new GrpcUnixClient(vertx, new UnixEndpoint(root.resolve("plugins").resolve(driver).resolve("csi.sock")))) {
      return Await.result(c.call(ControllerGrpcClient.ListVolumes,
          ListVolumesRequest.getDefaultInstance(), Duration.ofSeconds(10))).getEntriesCount();
    }
  }

  /** The live records of the provisioned volumes' log, name to JSON, folded line by line (the agent holds it open). */
  Map<String, String> provisionedRecordValues() {
    Path log = root.resolve("csi-node-agent/provisioned.log");
    Map<String, String> records = new TreeMap<>();
    var json = new ObjectMapper();
    try {
      for (String line : Files.exists(log) ? linesBeforeNul(Files.readAllBytes(log)) : List.<String>of()) {
        var node = json.readTree(line);
        if (node.hasNonNull("value")) {
          records.put(node.get("key").asText(), node.get("value").toString());
        } else {
          records.remove(node.get("key").asText());
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return records;
  }
}
