package dev.csinode.cli;

import dev.csinode.util.GoDuration;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/** One request to a running agent's API socket, for the CLI commands. */
final class ApiClient {
  /** Where the agent's API is: {@code --root-dir} or {@code --api-socket}. */
  static final class Where {
    @Option(names = "--root-dir", paramLabel = "DIR", description = "The agent's root directory (default: /var/lib/kubelet).")
    Path rootDir;

    @Option(names = "--api-socket", paramLabel = "PATH", description = "The agent's API socket.")
    Path apiSocket;

    static Path socket(Where w) {
      if (w != null && w.apiSocket != null) {
        return w.apiSocket;
      }
      return (w != null && w.rootDir != null ? w.rootDir : Path.of("/var/lib/kubelet")).resolve("csi-node-agent.sock");
    }
  }

  /** A group to embed in commands. */
  static final class Location {
    @ArgGroup(exclusive = true)
    Where where;

    Path socket() {
      return Where.socket(where);
    }
  }

  record Answer(int status, String body) {}

  /**
   * How long a request the agent answers from memory (status, a pod, the volumes, the orphans) may take: far more
   * than any answer of a working agent, and a stuck one gets an error rather than a shell that hangs.
   */
  static final Duration QUICK = Duration.ofSeconds(30);

  private ApiClient() {}

  /** One request without a deadline: for those that wait for a driver, which the agent bounds (--csi-timeout). */
  static Answer send(Path socket, String method, String uri, String body) throws IOException {
    return send(socket, method, uri, body, null);
  }

  /**
   * One HTTP/1.1 exchange over the JDK's own UNIX-domain socket channel, given up after {@code timeout} (null: none).
   * Neither Vert.x nor Netty, not even their HttpMethod: the CLI makes a single request, and Netty's classes pull
   * in slf4j and logback (some 550 classes, half a second of a 1 s {@code status}). A Vert.x client would also be
   * closed by a cleaner as soon as the garbage collector finds it unreachable, in the middle of the exchange.
   */
  static Answer send(Path socket, String method, String uri, String body, Duration timeout) throws IOException {
    if (!Files.exists(socket)) {
      throw new IllegalStateException("no agent API socket at " + socket + "; is the agent running with this --root-dir?");
    }
    byte[] content = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
    StringBuilder head = new StringBuilder().append(method).append(' ').append(uri).append(" HTTP/1.1\r\n")
        .append("Host: localhost\r\nConnection: close\r\n");
    if (content != null) {
      head.append("Content-Length: ").append(content.length).append("\r\n");
    }
    head.append("\r\n");
    String peer = "agent API at " + socket;
    String late = timeout == null ? null : "the " + peer + " did not answer " + method + " " + uri + " within "
        + GoDuration.format(timeout) + "; is the agent stuck? Its log may tell";
    try (ApiConnection connection = ApiConnection.open(socket, timeout, late)) {
      InputStream answer = new BufferedInputStream(connection.input());
      try {
        connection.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (content != null) {
          connection.write(content);
        }
      } catch (ApiConnection.ApiTimeoutException e) {
        throw e;
      } catch (IOException e) {
        // The agent may refuse a body before reading it all (413) and close: its answer is still there to read.
        try {
          return HttpResponse.read(answer, peer);
        } catch (IOException noAnswer) {
          throw new IOException("cannot send the request to the " + peer + ": " + e.getMessage(), e);
        }
      }
      return HttpResponse.read(answer, peer);
    }
  }

  /**
   * The deadline of a {@code ?wait=} request: the agent answers (408) when the wait is over, so a little more than
   * the wait; a wait the agent refuses (unreadable, over 24 h) is answered at once, and gets the quick deadline.
   */
  static Duration waitDeadline(String wait) {
    try {
      Duration d = GoDuration.parse(wait);
      return d.compareTo(Duration.ofHours(24)) > 0 ? QUICK : d.plus(QUICK);
    } catch (RuntimeException unreadable) {
      return QUICK;
    }
  }
}
