package dev.csinode.agent.cli;

import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.net.SocketAddress;
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

  static Answer send(Path socket, HttpMethod method, String uri, String body) throws Exception {
    if (!Files.exists(socket)) {
      throw new IllegalStateException("no agent API socket at " + socket + "; is the agent running with this --root-dir?");
    }
    Vertx vertx = Vertx.vertx();
    try {
      // The body is read inside the response callback: from this plain thread it could already have streamed by.
      return vertx.createHttpClient().request(new RequestOptions().setMethod(method)
              .setServer(SocketAddress.domainSocketAddress(socket.toString())).setHost("localhost").setURI(uri))
          .compose(req -> body == null ? req.send() : req.send(Buffer.buffer(body)))
          .compose(r -> r.body().map(b -> new Answer(r.statusCode(), b.toString())))
          .await();
    } finally {
      vertx.close().await();
    }
  }
}
