package dev.csinode.cli;

import dev.csinode.util.GoDuration;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Pattern;
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
    requireRequestTarget(uri);
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
      } catch (ApiConnection.ApiTimeoutException | InterruptedIOException e) {
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
   * A request line carries the URI as it is: a space, a control character (CR, LF: a forged header or request) or
   * a byte that is not ASCII would make another request of it. The commands validate what they put in; this is the
   * last check.
   */
  static void requireRequestTarget(String uri) {
    if (uri.isEmpty() || uri.charAt(0) != '/') {
      throw new IllegalArgumentException("request target '" + uri + "' is not a path");
    }
    for (int i = 0; i < uri.length(); i++) {
      char c = uri.charAt(i);
      if (c <= ' ' || c >= 0x7f) {
        throw new IllegalArgumentException("request target '" + uri
            + "' has a space, a control character or a character that is not ASCII; it cannot be sent");
      }
    }
  }

  /**
   * Characters of a path segment that a request line carries as they are (RFC 3986 pchar without '%': the agent
   * reads its path undecoded, so nothing can be percent-encoded).
   */
  private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9._~!$&'()*+,;=:@-]+");

  /**
   * {@code value} as a segment of a request path, or an error naming {@code what}: the agent's own rule for a name
   * (ManifestParser: not '.' or '..', no '/' or '%', which keeps {@code namespace/name} unambiguous), and only
   * characters a path carries as they are. Every name the API server accepts (a DNS-1123 label or subdomain) passes;
   * what fails could not name anything the agent holds, or could not be sent.
   */
  static String pathSegment(String value, String what) {
    if (value.isEmpty() || value.equals(".") || value.equals("..") || !SEGMENT.matcher(value).matches()) {
      throw new IllegalArgumentException(what + " '" + value + "' is not a name the agent's API can"
          + " address: Kubernetes names are lowercase letters, digits, '-' and '.' (not '.' or '..'; no '/', '%', space"
          + " or control character)");
    }
    return value;
  }

  /**
   * The longest wait the agent accepts ({@code AgentApiServer.MAX_WAIT}, not read from there: loading that class
   * would load Vert.x into a short command).
   */
  static final Duration MAX_WAIT = Duration.ofHours(24);

  /**
   * A {@code --timeout} (read by {@link DurationOption}) as the agent's {@code ?wait=} takes it: in Go notation, at most
   * {@link #MAX_WAIT}, checked here so that its error comes before any request.
   */
  static String waitParameter(Duration timeout) {
    if (timeout.compareTo(MAX_WAIT) > 0) {
      throw new IllegalArgumentException("--timeout " + GoDuration.format(timeout) + " is longer than "
          + MAX_WAIT.toHours() + "h; wait less, again if need be");
    }
    return GoDuration.format(timeout);
  }

  /**
   * The deadline of a {@code ?wait=} request: the agent answers (408) when the wait is over, so a little more than
   * the wait; a wait the agent refuses (unreadable, over 24 h) is answered at once, and gets the quick deadline.
   */
  static Duration waitDeadline(String wait) {
    try {
      Duration d = GoDuration.parse(wait);
      return d.compareTo(MAX_WAIT) > 0 ? QUICK : d.plus(QUICK);
    } catch (RuntimeException unreadable) {
      return QUICK;
    }
  }
}
