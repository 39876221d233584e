package dev.csinode.agent.api;

import static org.junit.jupiter.api.Assertions.*;

import dev.csinode.cli.ApiClientAccess;
import dev.csinode.testing.Await;
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
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API's limits on what a request may make the agent read. */
class AgentApiServerLimitsTest {
  @TempDir Path dir;
  Vertx vertx;
  StubApi api = new StubApi(Map.of("nodeName", "n"));
  AgentApiServer server;
  Path socket;

  @BeforeEach
  void start() {
    vertx = Vertx.vertx();
    socket = dir.resolve("api.sock");
    server = Await.result(AgentApiServer.start(vertx, socket, api, 1000));
  }

  @AfterEach
  void stop() {
    Await.result(server.stop());
    Await.result(vertx.close());
  }

  /** Sends the head and only the first part of the body; returns everything the server answers until it closes. */
  private String exchange(String head, byte[] bodyStart) {
    return assertTimeoutPreemptively(Duration.ofSeconds(20), () -> exchangeUntilClosed(head, bodyStart),
        "the server neither answered nor closed: it waits for the rest of the body");
  }

  private String exchangeUntilClosed(String head, byte[] bodyStart) throws IOException {
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.ISO_8859_1)));
      try {
        ch.write(ByteBuffer.wrap(bodyStart));
      } catch (IOException closedAlready) {
        // The server may answer and close on the head alone, before this part of the body is sent: its answer is
        // still there to read.
      }
      ByteArrayOutputStream answer = new ByteArrayOutputStream();
      ByteBuffer buf = ByteBuffer.allocate(8192);
      while (ch.read(buf) > 0) { // until the server closes: it must not wait for the announced rest
        answer.write(buf.array(), 0, buf.position());
        buf.clear();
      }
      return answer.toString(StandardCharsets.UTF_8);
    }
  }

  @Test
  void aDeclaredBodyOverTheLimitIsRefusedAtOnceWithoutReadingIt() throws Exception {
    String answer = exchange("POST /v1/objects HTTP/1.1\r\nHost: localhost\r\nContent-Length: 52428800\r\n\r\n",
        "{\"kind\":\"Pod\",".getBytes(StandardCharsets.UTF_8));
    assertTrue(answer.startsWith("HTTP/1.1 413 "), answer);
    assertTrue(answer.contains("52428800") && answer.contains("limit is 1000"), answer);
    assertTrue(api.applied.isEmpty());
  }

  @Test
  void aChunkedBodyIsCutOffOnceItPassesTheLimit() throws Exception {
    byte[] chunk = ("800\r\n" + "x".repeat(0x800) + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    String answer = exchange("POST /v1/objects HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n", chunk);
    assertTrue(answer.startsWith("HTTP/1.1 413 "), answer);
    assertTrue(answer.contains("larger than the limit of 1000"), answer);
    assertTrue(api.applied.isEmpty());
  }

  @Test
  void theCliSeesTheRefusalOfABodyItCouldNotFinishSending() throws Exception {
    var a = ApiClientAccess.send(socket, "POST", "/v1/objects", "x".repeat(8 << 20));
    assertEquals(413, a.status(), a.body());
  }

  @Test
  void aBodyAtTheLimitIsRead() throws Exception {
    var a = ApiClientAccess.send(socket, "POST", "/v1/objects", "k".repeat(1000));
    assertEquals(200, a.status(), a.body());
    assertEquals(1, api.applied.size());
  }

  @Test
  void anEmptyBodyIsABadRequestThatSaysSo() throws Exception {
    for (String body : new String[] {"", "  \n"}) {
      var a = ApiClientAccess.send(socket, "POST", "/v1/objects", body);
      assertEquals(400, a.status(), a.body());
      assertTrue(a.body().contains("body of POST /v1/objects is empty"), a.body());
    }
    assertTrue(api.applied.isEmpty());
  }
}
