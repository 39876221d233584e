package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The CLI's reading of an HTTP/1.1 answer: every framing, and bounded memory whatever the peer sends. */
@Tag("unit")
class HttpResponseTest {
  private static final String PEER = "agent API at /run/x.sock";

  private static InputStream bytes(String s) {
    return new ByteArrayInputStream(s.getBytes(StandardCharsets.ISO_8859_1));
  }

  /** {@code head} and then the same byte for ever: a peer that never stops sending. */
  private static InputStream endless(String head, int fill) {
    return new SequenceInputStream(bytes(head), new InputStream() {
      @Override
      public int read() {
        return fill;
      }
    });
  }

  private static String error(InputStream in, int maxBody) {
    return assertThrows(IOException.class, () -> HttpResponse.read(in, PEER, maxBody)).getMessage();
  }

  @Test
  void readsEachFraming() throws IOException {
    assertEquals(new ApiClient.Answer(200, "{}"), HttpResponse.read(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), PEER));
    assertEquals(new ApiClient.Answer(201, "abcdef"),
        HttpResponse.read(bytes("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n4\r\ncdef\r\n0\r\nT: v\r\n\r\n"), PEER));
    assertEquals(new ApiClient.Answer(404, "gone"), HttpResponse.read(bytes("HTTP/1.0 404 Not Found\r\n\r\ngone"), PEER));
    assertEquals(new ApiClient.Answer(200, "x"),
        HttpResponse.read(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nContent-Length: 1\n\nx"), PEER));
  }

  @Test
  void aBodyOverTheBoundIsRefusedBeforeItIsRead() {
    assertEquals(PEER + " sent an answer of 101 bytes, more than the 100 bytes an answer of the agent's API may have:"
        + " is something else serving that socket?", error(bytes("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n"), 100));
    assertTrue(error(endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + "a".repeat(64) + "\r\n40\r\n", 'a'), 100)
        .contains("sent an answer of 128 bytes"));
    assertTrue(error(endless("HTTP/1.1 200 OK\r\n\r\n", 'a'), 100).contains("sent an answer of more than 100 bytes"));
  }

  @Test
  void anEndlessOrMalformedHeadIsAnError() {
    assertEquals(PEER + " sent more than 65536 bytes of status and header lines", error(endless("HTTP/1.1 200 OK\r\nX: ", 'a'), 100));
    assertEquals(PEER + " sent more than 65536 bytes of status and header lines",
        error(new SequenceInputStream(Collections.enumeration(IntStream.range(0, 10_000)
            .mapToObj(i -> bytes("HTTP/1.1 100 Continue\r\n\r\n")).toList())), 100));
    assertTrue(error(endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", '1'), 100).contains("a chunk size line longer than 1024 bytes"));
    assertEquals(PEER + " sent an invalid Content-Length '-1'", error(bytes("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"), 100));
    assertEquals(PEER + " sent a malformed header line: 'no colon'", error(bytes("HTTP/1.1 200 OK\r\nno colon\r\n\r\n"), 100));
    assertEquals(PEER + " closed the connection before a complete answer", error(bytes("HTTP/1.1 200 OK\r\n"), 100));
  }

  /** Framing the client cannot be sure of is an error, not a guess at where the answer ends. */
  @Test
  void conflictingLengthsAndUnknownCodingsAreErrors() throws IOException {
    assertEquals(new ApiClient.Answer(200, "ab"),
        HttpResponse.read(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"), PEER), "the same length twice");
    assertEquals(PEER + " sent an invalid Content-Length '3' after Content-Length 2",
        error(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc"), 100));
    assertEquals(PEER + " sent an invalid Content-Length '+2'", error(bytes("HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab"), 100));
    assertEquals(PEER + " sent an invalid Content-Length '2, 2'", error(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab"), 100));
    for (String coding : List.of("gzip", "gzip, chunked", "identity")) {
      assertEquals(PEER + " sent Transfer-Encoding '" + coding + "', which this client cannot read (only chunked): is something else serving that socket?",
          error(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: " + coding + "\r\n\r\n0\r\n\r\n"), 100));
    }
    assertTrue(error(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 100)
        .contains("after chunked"));
  }
}
