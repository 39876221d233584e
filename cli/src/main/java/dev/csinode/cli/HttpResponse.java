package dev.csinode.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Reads one HTTP/1.1 response (RFC 9112): the status line, the headers, and the body framed by chunked transfer
 * coding, by Content-Length, or by the end of the connection. Interim 1xx responses are skipped.
 */
final class HttpResponse {
  private static final int MAX_LINE = 64 * 1024;

  private HttpResponse() {}

  static ApiClient.Answer read(InputStream in, String peer) throws IOException {
    while (true) {
      String statusLine = line(in, peer);
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.") || !parts[1].matches("\\d{3}")) {
        throw new IOException(peer + " answered something that is not HTTP/1.1: '" + statusLine + "'");
      }
      int status = Integer.parseInt(parts[1]);
      long length = -1;
      boolean chunked = false;
      for (String h = line(in, peer); !h.isEmpty(); h = line(in, peer)) {
        int colon = h.indexOf(':');
        if (colon <= 0) {
          throw new IOException(peer + " sent a malformed header line: '" + h + "'");
        }
        String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        String value = h.substring(colon + 1).trim();
        if (name.equals("transfer-encoding")) {
          chunked = value.toLowerCase(Locale.ROOT).endsWith("chunked");
        } else if (name.equals("content-length")) {
          try {
            length = Long.parseLong(value);
          } catch (NumberFormatException e) {
            throw new IOException(peer + " sent an invalid Content-Length '" + value + "'");
          }
        }
      }
      if (status / 100 == 1) {
        continue; // 100 Continue and the like: the real answer follows
      }
      byte[] body = status == 204 || status == 304 ? new byte[0]
          : chunked ? chunked(in, peer) : length >= 0 ? exactly(in, length, peer) : in.readAllBytes();
      return new ApiClient.Answer(status, new String(body, StandardCharsets.UTF_8));
    }
  }

  private static byte[] chunked(InputStream in, String peer) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      String size = line(in, peer);
      int ext = size.indexOf(';');
      long n;
      try {
        n = Long.parseLong((ext < 0 ? size : size.substring(0, ext)).trim(), 16);
      } catch (NumberFormatException e) {
        throw new IOException(peer + " sent an invalid chunk size '" + size + "'");
      }
      if (n == 0) {
        while (!line(in, peer).isEmpty()) {
          // trailer fields: not used
        }
        return body.toByteArray();
      }
      body.writeBytes(exactly(in, n, peer));
      if (!line(in, peer).isEmpty()) {
        throw new IOException(peer + " sent a chunk longer than its size");
      }
    }
  }

  private static byte[] exactly(InputStream in, long n, String peer) throws IOException {
    if (n > Integer.MAX_VALUE - 8) {
      throw new IOException(peer + " announced a body of " + n + " bytes, too large to read");
    }
    byte[] b = in.readNBytes((int) n);
    if (b.length < n) {
      throw new IOException(peer + " closed the connection after " + b.length + " of " + n + " body bytes");
    }
    return b;
  }

  /** A line ending in CRLF (a bare LF is tolerated), without it. */
  private static String line(InputStream in, String peer) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new IOException(peer + " closed the connection before a complete answer");
      }
      if (b.size() >= MAX_LINE) {
        throw new IOException(peer + " sent a header line longer than " + MAX_LINE + " bytes");
      }
      b.write(c);
    }
    String s = b.toString(StandardCharsets.ISO_8859_1);
    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
  }
}
