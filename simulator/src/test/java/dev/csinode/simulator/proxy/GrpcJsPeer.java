package dev.csinode.simulator.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A grpc-js process from proto/src/test/node/proxy-peer.js: the CSI driver behind the proxy, or the node in front of
 * it, an independent gRPC stack on both sides. The server's lines say which calls the driver finished; the client
 * answers each call with the code, details, response and elapsed time on its own clock.
 */
final class GrpcJsPeer implements AutoCloseable {
  static final Path NODE_DIR = Path.of("../proto/src/test/node").toAbsolutePath().normalize();
  static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final BlockingQueue<JsonNode> served = new LinkedBlockingQueue<>();
  private final BlockingQueue<JsonNode> started = new LinkedBlockingQueue<>();
  private final Map<Long, CompletableFuture<JsonNode>> answers = new ConcurrentHashMap<>();
  private final AtomicLong ids = new AtomicLong();
  private final CompletableFuture<Void> listening = new CompletableFuture<>();
  private final StringBuilder output = new StringBuilder();

  private GrpcJsPeer(String mode, Path socket) throws IOException {
    assertTrue(Files.isDirectory(NODE_DIR.resolve("node_modules/@grpc/grpc-js")),
        "grpc-js is not installed in " + NODE_DIR + "; run scripts/test.sh (it runs npm ci there)");
    process = new ProcessBuilder("node", "proxy-peer.js", mode, socket.toString()).directory(NODE_DIR.toFile())
        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    Thread reader = new Thread(this::read, "grpc-js-" + mode);
    reader.setDaemon(true);
    reader.start();
  }

  static GrpcJsPeer driver(Path socket) throws Exception {
    GrpcJsPeer p = new GrpcJsPeer("server", socket);
    p.listening.get(60, TimeUnit.SECONDS);
    return p;
  }

  static GrpcJsPeer node(Path socket) throws Exception {
    return new GrpcJsPeer("client", socket);
  }

  private void read() {
    try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = r.readLine()) != null) {
        synchronized (output) {
          output.append(line).append('\n');
        }
        if (line.equals("listening")) {
          listening.complete(null);
          continue;
        }
        JsonNode n = JSON.readTree(line);
        if (n.has("started")) {
          started.add(n);
        } else if (n.has("served")) {
          served.add(n);
        } else {
          answers.computeIfAbsent(n.get("id").asLong(), id -> new CompletableFuture<>()).complete(n);
        }
      }
    } catch (IOException e) {
      listening.completeExceptionally(e);
    }
    listening.completeExceptionally(new IllegalStateException("grpc-js peer exited: " + output));
  }

  /** A call on a CSI service; {@code request} as JSON in the proto's field names. */
  static ObjectNode csi(String service, String method, String requestJson, long deadlineMs) throws IOException {
    ObjectNode cmd = JSON.createObjectNode().put("service", service).put("method", method);
    cmd.set("request", JSON.readTree(requestJson));
    if (deadlineMs > 0) {
      cmd.put("deadlineMs", deadlineMs);
    }
    return cmd;
  }

  static ObjectNode stage(String volumeId, long deadlineMs) throws IOException {
    return csi("Node", "NodeStageVolume", "{\"volume_id\":\"" + volumeId + "\",\"staging_target_path\":\"/var/lib/kubelet/plugins/"
        + "kubernetes.io/csi/proxy-peer.example.com/" + volumeId + "/globalmount\",\"secrets\":{\"password\":\"hunter2\"}}", deadlineMs);
  }

  /** Sends the call; the answer comes when the node (grpc-js) has it. */
  CompletableFuture<JsonNode> send(ObjectNode cmd) throws IOException {
    long id = ids.incrementAndGet();
    cmd.put("id", id);
    CompletableFuture<JsonNode> answer = answers.computeIfAbsent(id, i -> new CompletableFuture<>());
    OutputStream in = process.getOutputStream();
    synchronized (in) {
      in.write((JSON.writeValueAsString(cmd) + "\n").getBytes(StandardCharsets.UTF_8));
      in.flush();
    }
    return answer;
  }

  JsonNode call(ObjectNode cmd) throws Exception {
    return send(cmd).get(60, TimeUnit.SECONDS);
  }

  /** The next call the driver finished, in order. */
  JsonNode nextServed() throws InterruptedException {
    JsonNode n = served.poll(60, TimeUnit.SECONDS);
    assertNotNull(n, "the driver finished no call within 60 s");
    return n;
  }

  /** Waits until a slow-* call has reached the driver. */
  void awaitStarted(String volumeId) throws InterruptedException {
    JsonNode n;
    do {
      n = started.poll(60, TimeUnit.SECONDS);
      assertNotNull(n, volumeId + " did not reach the driver within 60 s");
    } while (!n.get("volume_id").asText().equals(volumeId));
  }

  /** Asserts the driver's next finished call was this one. */
  void assertServedNext(String method, String volumeId) throws InterruptedException {
    JsonNode n = nextServed();
    assertEquals(method + " " + volumeId, n.get("served").asText() + " " + n.get("volume_id").asText(), n.toString());
  }

  @Override
  public void close() throws Exception {
    process.destroy();
    if (!process.waitFor(10, TimeUnit.SECONDS)) {
      process.destroyForcibly();
    }
  }
}
