package dev.csinode.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Reads one HTTP/1.1 response (RFC 9112): the status line, the headers, and the body framed by chunked transfer
 * coding, by Content-Length, or by the end of the connection. Interim 1xx responses are skipped. Memory is bounded:
 * the head (interim responses included) to {@link #MAX_HEAD} bytes, the body to {@link #MAX_BODY} bytes; whatever
 * passes them is an error naming the peer, not an OutOfMemoryError.
 */
final class HttpResponse {
  /** Status line and headers: the agent's API sends a few short ones. */
  static final int MAX_HEAD = 64 * 1024;
  /** A status of 10,000 pods is about 10 MiB of indented JSON; more than this is not the agent's API. */
  static final int MAX_BODY = 64 * 1024 * 1024;
  /** A chunk's size line: hex digits and perhaps an extension. */
  private static final int CHUNK_LINE = 1024;

  private final InputStream in;
  private final String peer;
  private final int maxBody;
  private int headBytes;

  private HttpResponse(InputStream in, String peer, int maxBody) {
    this.in = in;
    this.peer = peer;
    this.maxBody = maxBody;
  }

  static ApiClient.Answer read(InputStream in, String peer) throws IOException {
    return read(in, peer, MAX_BODY);
  }

  static ApiClient.Answer read(InputStream in, String peer, int maxBody) throws IOException {
    return new HttpResponse(in, peer, maxBody).read();
  }

  private ApiClient.Answer read() throws IOException {
    while (true) {
      String statusLine = line();
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || !parts[1].matches("\\d{3}")) {
        throw new IOException(peer + " answered something that is not HTTP/1.1: '" + printable(statusLine) + "'");
      }
      int status = Integer.parseInt(parts[1]);
      long length = -1;
      boolean chunked = false;
      for (String h = line(); !h.isEmpty(); h = line()) {
        int colon = h.indexOf(':');
        if (colon <= 0) {
          throw new IOException(peer + " sent a malformed header line: '" + printable(h) + "'");
        }
        String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = h.substring(colon + 1).trim();
        if (name.equals("transfer-encoding")) {
          // Only chunked is read: another coding (gzip, ...) would be passed on as the answer, undecoded.
          if (chunked || !value.equalsIgnoreCase("chunked")) {
            throw new IOException(peer + " sent Transfer-Encoding '" + printable(value) + "'" + (chunked ? " after chunked" : "")
                + ", which this client cannot read (only chunked): is something else serving that socket?");
          }
          chunked = true;
        } else if (name.equals("content-length")) {
          long l;
          try {
            l = value.chars().allMatch(c -> c >= '0' && c <= '9') ? Long.parseLong(value) : -1;
          } catch (NumberFormatException e) {
            l = -1;
          }
          // Two lengths that differ leave the answer's end unknown (RFC 9112 6.3): an error, not a guess.
          if (l < 0 || (length >= 0 && l != length)) {
            throw new IOException(peer + " sent an invalid Content-Length '" + printable(value) + "'"
                + (l >= 0 ? " after Content-Length " + length : ""));
          }
          length = l;
        }
      }
      if (status / 100 == 1) {
        continue; // 100 Continue and the like: the real answer follows
      }
      byte[] body = status == 204 || status == 304 ? new byte[0]
          : chunked ? chunked() : length >= 0 ? exactly(length, 0) : untilClosed();
      return new ApiClient.Answer(status, new String(body, StandardCharsets.UTF_8));
    }
  }

  private byte[] chunked() throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String size = line(CHUNK_LINE, "a chunk size line longer than " + CHUNK_LINE + " bytes");
      int ext = size.indexOf(';');
      long n;
      try {
        n = Long.parseLong((ext < 0 ? size : size.substring(0, ext)).trim(), 16);
      } catch (NumberFormatException e) {
        throw new IOException(peer + " sent an invalid chunk size '" + printable(size) + "'");
      }
      if (n < 0) {
        throw new IOException(peer + " sent an invalid chunk size '" + printable(size) + "'");
      }
      if (n == 0) {
        while (!line().isEmpty()) {
          // trailer fields: not used (they count against the head's bound)
        }
        return body.toByteArray();
      }
      body.writeBytes(exactly(n, body.size()));
      if (!line(CHUNK_LINE, "a chunk longer than its size").isEmpty()) {
        throw new IOException(peer + " sent a chunk longer than its size");
      }
    }
  }

  /** {@code n} more body bytes, after {@code before} already read. */
  private byte[] exactly(long n, int before) throws IOException {
    if (n > maxBody - before) {
      throw tooLarge(before + n + " bytes");
    }
    byte[] b = in.readNBytes((int) n);
    if (b.length < n) {
      throw new IOException(peer + " closed the connection after " + (before + b.length) + " of " + (before + n) + " body bytes");
    }
    return b;
  }

  private byte[] untilClosed() throws IOException {
    byte[] b = in.readNBytes(maxBody);
    if (in.read() >= 0) {
      throw tooLarge("more than " + maxBody + " bytes");
    }
    return b;
  }

  private IOException tooLarge(String size) {
    return new IOException(peer + " sent an answer of " + size + ", more than the " + maxBody
        + " bytes an answer of the agent's API may have: is something else serving that socket?");
  }

  /** A line of the head: all of them together (interim responses too) at most MAX_HEAD bytes. */
  private String line() throws IOException {
    String s = line(MAX_HEAD - headBytes, "more than " + MAX_HEAD + " bytes of status and header lines");
    headBytes += s.length() + 1;
    return s;
  }

  /** A line ending in CRLF (a bare LF is tolerated), without it, of at most {@code max} bytes. */
  private String line(int max, String tooLong) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException(peer + " closed the connection before a complete answer");
      }
      if (b.size() >= max) {
        throw new IOException(peer + " sent " + tooLong);
      }
      b.write(c);
    }
    String s = b.toString(StandardCharsets.ISO_8859_1);
    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
  }

  /** Some of what the peer sent, quoted in an error (which the commands print escaped): short. */
  private static String printable(String s) {
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }
}
