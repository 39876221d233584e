package dev.csinode.agent.api;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.agent.housekeeping.HousekeepingAction;
import dev.csinode.agent.housekeeping.OrphanedPodDirectories.Orphan;
import dev.csinode.agent.status.DriverStatus;
import dev.csinode.agent.status.ProvisioningStatus;
import dev.csinode.agent.status.ProvisioningStatus.ClaimProvisioning;
import dev.csinode.agent.status.ProvisioningStatus.ProvisionedVolume;
import dev.csinode.agent.status.StatusReport;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.agent.status.VolumeManagerStatus.VolumeStatus;
import dev.csinode.mount.RecordLog;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JSON documents of the local API, field by field: what the CLI and scripts read. The values come from a test
 * double; the server turns them into the answers.
 */
@Tag("unit")
class AgentApiShapeTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final PodStatus POD = new PodStatus("default/app", "u-1", false,
      List.of(new PodVolume("data", "kubernetes.io/csi/d^h", "d", "h", "failed", "/s", null, "boom", "2026-01-01T00:00:00Z")),
      List.of("e1"), List.of("w1"), List.of("scratch (emptyDir: not handled by this agent)"));
  static final ProvisionedVolume PV = new ProvisionedVolume("pvc-1", "default/c", "d", "h", "Delete", "Bound", null, null, null);
  static final StatusReport STATUS = new StatusReport("node-1", "/var/lib/kubelet",
      List.of(new DriverStatus("d", "/p/csi.sock", "node-1", "registered", null, true, List.of("STAGE_UNSTAGE_VOLUME"),
          Map.of("zone", "a"), 10, "/r/d.sock", "2026-01-01T00:00:00Z", null)),
      List.of(POD), List.of(new VolumeStatus("kubernetes.io/csi/d^h", "d", "h", "staged", false, "/s", List.of("u-1"), null, null)),
      List.of("m1"), List.of("/mnt/x"), List.of(new Orphan("u-2", "/var/lib/kubelet/pods/u-2", HousekeepingAction.REMOVE, "empty")),
      new ProvisioningStatus(List.of(new ClaimProvisioning("default/c2", "failed", "d", "no space", 2, "2026-01-01T00:00:01Z")), List.of(PV)),
      List.of(new RecordLog.Degraded("/r/j.log", "ENOSPC", "2026-01-01T00:00:02Z")));

  static final String POD_JSON = """
      {'pod': 'default/app', 'uid': 'u-1', 'ready': false,
       'volumes': [{'name': 'data', 'uniqueName': 'kubernetes.io/csi/d^h', 'driver': 'd', 'volumeHandle': 'h', 'state': 'failed',
                    'stagingPath': '/s', 'hostPath': null, 'lastError': 'boom', 'nextRetryAt': '2026-01-01T00:00:00Z'}],
       'errors': ['e1'], 'waiting': ['w1'], 'notHandled': ['scratch (emptyDir: not handled by this agent)']}""";
  static final String PV_JSON = """
      {'name': 'pvc-1', 'claim': 'default/c', 'driver': 'd', 'volumeHandle': 'h', 'reclaimPolicy': 'Delete', 'phase': 'Bound',
       'reason': null, 'lastError': null, 'nextRetryAt': null}""";

  @TempDir Path dir;
  Vertx vertx;
  Path socket;
  AgentApiServer server;

  final StubApi api = new StubApi(STATUS) {
    @Override
    public Optional<PodStatus> pod(String namespace, String name) {
      return name.equals("app") ? Optional.of(POD) : Optional.empty();
    }

    @Override
    public Future<PodStatus> waitReady(String namespace, String name, Duration timeout) {
      return name.equals("app") ? Future.succeededFuture(POD) : Future.failedFuture(new AgentApi.ApiException(408, "not ready"));
    }

    @Override
    public Future<List<Orphan>> orphans(boolean remove) {
      return Future.succeededFuture(List.of(new Orphan("u-2", "/var/lib/kubelet/pods/u-2", remove ? HousekeepingAction.REMOVED : HousekeepingAction.REMOVE, "empty")));
    }

    @Override
    public PersistentVolumes persistentVolumes() {
      return new PersistentVolumes(List.of(PV));
    }

    @Override
    public Future<PersistentVolumeDeleted> deletePersistentVolume(String name) {
      return name.equals("pvc-1") ? Future.succeededFuture(new PersistentVolumeDeleted(name, "deleted volume h"))
          : Future.failedFuture(new AgentApi.ApiException(404, "no PersistentVolume " + name));
    }

    @Override
    public Future<Boolean> deleteObject(String kind, String namespace, String name) {
      return Future.succeededFuture(name.equals("app"));
    }

    @Override
    public Future<Boolean> deletePod(String namespace, String name) {
      return deleteObject("Pod", namespace, name);
    }
  };

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    socket = dir.resolve("api.sock");
    server = Await.result(AgentApiServer.start(vertx, socket, api));
  }

  @AfterEach
  void stop() {
    Await.result(server.stop());
    Await.result(vertx.close());
  }

  record Answer(int status, JsonNode body) {}

  /** One HTTP/1.1 request; the answer's status and its body as a JSON tree. */
  Answer send(String method, String uri, String body) throws IOException {
    byte[] content = body.getBytes(StandardCharsets.UTF_8);
    String head = method + " " + uri + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: " + content.length + "\r\n\r\n";
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.ISO_8859_1)));
      ch.write(ByteBuffer.wrap(content));
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      ByteBuffer buf = ByteBuffer.allocate(8192);
      while (ch.read(buf) > 0) {
        answer.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      String text = answer.toString(StandardCharsets.UTF_8);
      int split = text.indexOf("\r\n\r\n");
      assertTrue(text.startsWith("HTTP/1.1 ") && split > 0, text);
      return new Answer(Integer.parseInt(text.substring(9, 12)), JSON.readTree(text.substring(split + 4)));
    }
  }

  /** The answer has this status and this document (JSON with ' for "; key order does not count). */
  void assertAnswer(int status, String expected, Answer a) throws IOException {
    assertEquals(JSON.readTree(expected.replace('\'', '"')), a.body());
    assertEquals(status, a.status(), a.body().toString());
  }

  @Test
  void status() throws IOException {
    assertAnswer(200, """
        {'nodeName': 'node-1', 'rootDir': '/var/lib/kubelet',
         'drivers': [{'name': 'd', 'endpoint': '/p/csi.sock', 'nodeId': 'node-1', 'state': 'registered', 'reason': null, 'healthy': true,
                      'capabilities': ['STAGE_UNSTAGE_VOLUME'], 'topology': {'zone': 'a'}, 'maxVolumesPerNode': 10,
                      'registrationSocket': '/r/d.sock', 'registeredAt': '2026-01-01T00:00:00Z', 'nextRetryAt': null}],
         'pods': [%s],
         'volumes': [{'uniqueName': 'kubernetes.io/csi/d^h', 'driver': 'd', 'volumeHandle': 'h', 'state': 'staged', 'attached': false,
                      'stagingPath': '/s', 'publishedFor': ['u-1'], 'lastError': null, 'nextRetryAt': null}],
         'manifestErrors': ['m1'], 'unmanagedMounts': ['/mnt/x'],
         'orphanedPodDirectories': [{'podUid': 'u-2', 'path': '/var/lib/kubelet/pods/u-2', 'action': 'remove', 'reason': 'empty'}],
         'provisioning': {'claims': [{'claim': 'default/c2', 'state': 'failed', 'driver': 'd', 'lastError': 'no space', 'failures': 2,
                                      'nextRetryAt': '2026-01-01T00:00:01Z'}],
                          'volumes': [%s]},
         'degradedRecords': [{'file': '/r/j.log', 'problem': 'ENOSPC', 'since': '2026-01-01T00:00:02Z'}]}
        """.formatted(POD_JSON, PV_JSON), send("GET", "/v1/status", ""));
  }

  @Test
  void pods() throws IOException {
    assertAnswer(200, POD_JSON, send("GET", "/v1/pods/default/app", ""));
    assertAnswer(404, "{'error': 'pod default/other is unknown'}", send("GET", "/v1/pods/default/other", ""));
    assertAnswer(200, POD_JSON, send("GET", "/v1/pods/default/app?wait=1s", ""));
    assertAnswer(408, "{'error': 'not ready'}", send("GET", "/v1/pods/default/other?wait=1s", ""));
    assertAnswer(400, "{'error': 'wait=3000000000000h is longer than 24h; wait less, again if need be'}",
        send("GET", "/v1/pods/default/app?wait=3000000000000h", ""));
    // Too large for a Duration at all: a client's error too, not the server's.
    Answer tooLarge = send("GET", "/v1/pods/default/app?wait=9999999999999999h", "");
    assertEquals(400, tooLarge.status(), tooLarge.body().toString());
    assertEquals("'9999999999999999h' is too large a duration; use e.g. 500ms, 1s, 2m or 2m2s", tooLarge.body().get("error").asText());
    assertAnswer(200, "{'deleted': 'default/app'}", send("DELETE", "/v1/pods/default/app", ""));
    assertAnswer(404, "{'error': 'no pod default/other was pushed through the API'}", send("DELETE", "/v1/pods/default/other", ""));
    assertAnswer(405, "{'error': 'PUT is not allowed on /v1/pods/default/app'}", send("PUT", "/v1/pods/default/app", ""));
  }

  @Test
  void objects() throws IOException {
    assertAnswer(200, "{'applied': ['Pod default/p'], 'errors': []}", send("POST", "/v1/objects", "kind: Pod"));
    assertAnswer(200, "{'deleted': 'Secret default/app'}", send("DELETE", "/v1/objects/Secret/default/app", ""));
    assertAnswer(404, "{'error': 'no Secret default/s was pushed through the API'}", send("DELETE", "/v1/objects/Secret/default/s", ""));
  }

  @Test
  void orphansAndPersistentVolumes() throws IOException {
    assertAnswer(200, "{'orphanedPodDirectories': [{'podUid': 'u-2', 'path': '/var/lib/kubelet/pods/u-2', 'action': 'remove', "
        + "'reason': 'empty'}]}", send("GET", "/v1/orphans", ""));
    assertAnswer(200, "{'orphanedPodDirectories': [{'podUid': 'u-2', 'path': '/var/lib/kubelet/pods/u-2', 'action': 'removed', "
        + "'reason': 'empty'}]}", send("POST", "/v1/orphans/cleanup", ""));
    assertAnswer(200, "{'items': [" + PV_JSON + "]}", send("GET", "/v1/persistentvolumes", ""));
    assertAnswer(200, "{'deleted': 'pvc-1', 'message': 'deleted volume h'}", send("DELETE", "/v1/persistentvolumes/pvc-1", ""));
    assertAnswer(404, "{'error': 'no PersistentVolume pvc-2'}", send("DELETE", "/v1/persistentvolumes/pvc-2", ""));
    assertEquals(404, send("GET", "/v1/nothing", "").status());
  }
}
