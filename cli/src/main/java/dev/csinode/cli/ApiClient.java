package dev.csinode.cli;

import io.vertx.core.http.HttpMethod;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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

  private ApiClient() {}

  /**
   * One HTTP/1.1 exchange over the JDK's own UNIX-domain socket channel. Not Vert.x: the CLI makes a single
   * request, and a Vert.x HTTP client dropped after its request is closed by a cleaner as soon as the garbage
   * collector finds it unreachable, which any collector but the launcher's serial one did in the middle of the
   * exchange ("Pool closed", "Connection was closed").
   */
  static Answer send(Path socket, HttpMethod method, String uri, String body) throws IOException {
    if (!Files.exists(socket)) {
      throw new IllegalStateException("no agent API socket at " + socket + "; is the agent running with this --root-dir?");
    }
    byte[] content = body == null ? null : body.getBytes(StandardCharsets.UTF_8);
    StringBuilder head = new StringBuilder().append(method.name()).append(' ').append(uri).append(" HTTP/1.1\r\n")
        .append("Host: localhost\r\nConnection: close\r\n");
    if (content != null) {
      head.append("Content-Length: ").append(content.length).append("\r\n");
    }
    head.append("\r\n");
    try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      ch.connect(UnixDomainSocketAddress.of(socket));
      String peer = "agent API at " + socket;
      OutputStream out = Channels.newOutputStream(ch);
      try {
        out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (content != null) {
          out.write(content);
        }
        out.flush();
      } catch (IOException e) {
        // The agent may refuse a body before reading it all (413) and close: its answer is still there to read.
        try {
          return HttpResponse.read(new BufferedInputStream(Channels.newInputStream(ch)), peer);
        } catch (IOException noAnswer) {
          throw new IOException("cannot send the request to the " + peer + ": " + e.getMessage(), e);
        }
      }
      return HttpResponse.read(new BufferedInputStream(Channels.newInputStream(ch)), peer);
    }
  }
}
