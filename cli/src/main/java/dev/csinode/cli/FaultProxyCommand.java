package dev.csinode.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.simulator.proxy.FaultProxy;
import dev.csinode.simulator.proxy.FaultRules;
import dev.csinode.simulator.proxy.InvalidRulesException;
import dev.csinode.simulator.proxy.RulesFileWatcher;
import dev.csinode.simulator.trace.CsiCall;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent fault-proxy}: the simulator's fault-injecting CSI proxy on its own, between any node and any driver. */
@Command(name = "fault-proxy", mixinStandardHelpOptions = true,
    description = {"Serve a CSI socket that forwards every call to a driver's socket, injecting the faults a rules file names "
        + "(delay, fail, hang, drop, lose-answer). The rules file is reloaded when it changes; a bad new file is refused and "
        + "the rules in force stay. Runs until SIGTERM or Ctrl-C.",
        "Exit status: 2 for a usage error or a bad rules file at start, 1 when it cannot serve."})
public final class FaultProxyCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--listen", required = true, paramLabel = "ENDPOINT",
      description = "The socket the node dials instead of the driver's (unix:///path or a path).")
  String listen;

  @Option(names = "--target", required = true, paramLabel = "ENDPOINT", description = "The driver's socket.")
  String target;

  @Option(names = "--rules", required = true, paramLabel = "FILE",
      description = "YAML rules file: a top-level rules: list (see simulator/README.md).")
  Path rules;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "N",
      description = "Seed of the draws for rules with a probability (default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--trace", paramLabel = "FILE",
      description = "Append each finished call to FILE as a JSON line (method, volume, paths, times, code, fault).")
  Path trace;

  @Override
  public Integer call() throws IOException {
    UnixEndpoint listenAt;
    UnixEndpoint targetAt;
    FaultRules initial;
    try {
      listenAt = UnixEndpoint.parse(listen);
      targetAt = UnixEndpoint.parse(target);
      if (listenAt.equals(targetAt)) {
        throw new IllegalArgumentException("--listen and --target are the same socket " + listenAt);
      }
      initial = FaultRules.load(rules, seed);
    } catch (IllegalArgumentException | InvalidRulesException e) {
      System.err.println("fault-proxy: " + TerminalText.text(e.getMessage()));
      return 2;
    }
    // Everything that can fail happens before the proxy serves: a socket seen served must stay served (watching after
    // listening, a failed watch withdrew the socket again, and a client that had just seen it got connection refused).
    TraceFile traceFile = trace == null ? null : new TraceFile(trace);
    try {
      RulesFileWatcher watcher;
      try {
        watcher = RulesFileWatcher.open(rules);
      } catch (IOException e) {
        System.err.println("fault-proxy: cannot watch the rules file " + TerminalText.text(rules.toString()) + " for changes: "
            + TerminalText.text(e.getMessage()) + " (inotify instances per user: /proc/sys/fs/inotify/max_user_instances)");
        return 1;
      }
      try {
        Vertx vertx = Vertx.vertx();
        Future<Running> started = FaultProxy.start(vertx, listenAt, targetAt, initial, new Trace(), FaultProxy.Checks.none(),
            traceFile == null ? call -> {} : traceFile).map(proxy -> new Running(proxy, watcher.start(proxy, reload -> {})));
        return Lifecycle.run(vertx, "fault-proxy", started, Running::stop, null);
      } finally {
        watcher.close(); // also when the proxy never started, or starting it threw: its thread and inotify instance go
      }
    } finally {
      if (traceFile != null) {
        traceFile.close();
      }
    }
  }

  private record Running(FaultProxy proxy, RulesFileWatcher watcher) {
    Future<Void> stop() {
      watcher.close();
      return proxy.close();
    }
  }

  /** Appends calls as JSON lines on a thread of its own: the proxy records them on its event loop. */
  private static final class TraceFile implements Consumer<CsiCall> {
    private final BufferedWriter out;
    private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "fault-proxy-trace");
      t.setDaemon(true);
      return t;
    });

    TraceFile(Path file) throws IOException {
      out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Override
    public void accept(CsiCall call) {
      writer.execute(() -> {
        try {
          out.write(JSON.writeValueAsString(call));
          out.newLine();
          out.flush();
        } catch (IOException e) {
          System.err.println("fault-proxy: cannot write the trace: " + TerminalText.text(e.getMessage()));
        }
      });
    }

    void close() {
      writer.shutdown();
      try {
        writer.awaitTermination(10, TimeUnit.SECONDS);
        out.close();
      } catch (InterruptedException | IOException e) {
        System.err.println("fault-proxy: closing the trace: " + TerminalText.text(e.getMessage()));
      }
    }
  }
}
