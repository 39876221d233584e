package dev.csinode.simulator.driver;

import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A driver the simulator runs as a child process from a command line, its output appended to a log file. Each
 * start is put in a session of its own (setsid), so that a kill reaches its whole process tree with one
 * SIGKILL to the process group, plus every descendant seen just before (in case one made a session of its own).
 */
public final class DriverProcess {
  public static final String ENDPOINT_PLACEHOLDER = "{endpoint}";
  static final Duration SERVE_WAIT = Duration.ofSeconds(30);
  private static final Logger LOG = LoggerFactory.getLogger(DriverProcess.class);
  private static final Path SETSID = Path.of("/usr/bin/setsid");
  private static final int LOG_TAIL_LINES = 20;

  private final Vertx vertx;
  private final List<String> command;
  private final List<String> argv;
  private final UnixEndpoint endpoint;
  private final Path log;
  private final Duration serveWait;
  private volatile Process process;
  /**
   * Completes with the process once {@link #start} forked it (null when it could not): a kill that comes while the
   * fork is under way (a SIGTERM right after the start) waits for it, or the command would outlive us.
   */
  private volatile CompletableFuture<Process> spawning = CompletableFuture.completedFuture(null);
  /** Whether the process leads a process group of its own (setsid), so the group can be killed. */
  private volatile boolean ownGroup;

  public DriverProcess(Vertx vertx, List<String> command, UnixEndpoint endpoint, Path log, Duration serveWait) {
    this.vertx = vertx;
    this.command = List.copyOf(command);
    this.argv = argv(command, endpoint.path());
    this.endpoint = endpoint;
    this.log = log;
    this.serveWait = serveWait;
  }

  /** The command with the placeholder replaced by the socket path. */
  static List<String> argv(List<String> command, Path socket) {
    return command.stream().map(a -> a.replace(ENDPOINT_PLACEHOLDER, socket.toString())).toList();
  }

  public UnixEndpoint endpoint() {
    return endpoint;
  }

  public Path log() {
    return log;
  }

  /** Starts the command; completes once something serves the endpoint, fails when it exits or the wait passes. */
  public Future<Void> start() {
    CompletableFuture<Process> spawned = new CompletableFuture<>();
    spawning = spawned;
    return vertx.executeBlocking(() -> {
      try {
        return spawn();
      } finally {
        spawned.complete(process);
      }
    }, false).compose(p -> awaitServing(p, System.nanoTime() + serveWait.toNanos()));
  }

  private Process spawn() throws IOException {
    Files.createDirectories(log.getParent());
    Files.createDirectories(endpoint.path().getParent()); // many drivers listen without making the directory
    Files.writeString(log, "=== " + Instant.now() + " starting: " + String.join(" ", argv) + System.lineSeparator(),
        StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    List<String> full = new ArrayList<>();
    ownGroup = Files.isExecutable(SETSID);
    if (ownGroup) {
      full.add(SETSID.toString());
    }
    full.addAll(argv);
    ProcessBuilder pb = new ProcessBuilder(full).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .directory(log.getParent().toFile()); // relative paths in the command (a state dir) stay in the run's directory
    try {
      process = pb.start();
    } catch (IOException e) {
      throw new IllegalStateException(describe() + " cannot be started: " + e.getMessage(), e);
    }
    LOG.info("started {} (pid {}), log {}", describe(), process.pid(), log);
    return process;
  }

  /**
   * On a restart the killed process's socket is still at the path until the new process replaces it; a check
   * that saw the file replaced says not served (yet), so a new process is never taken as up before it listens.
   */
  private Future<Void> awaitServing(Process p, long deadlineNanos) {
    return vertx.executeBlocking(() -> SocketFiles.isServed(endpoint.path()), false).compose(served -> {
      if (served) {
        return Future.succeededFuture();
      }
      if (!p.isAlive()) {
        return Future.failedFuture(new IllegalStateException(describe() + " exited with status " + p.exitValue()
            + " before it served " + endpoint.path() + "; its log: " + log + logTail()));
      }
      if (System.nanoTime() > deadlineNanos) {
        return kill().transform(ar -> Future.failedFuture(new IllegalStateException(describe() + " did not serve "
            + endpoint.path() + " within " + serveWait.toSeconds() + " s; its log: " + log + logTail())));
      }
      Promise<Void> later = Promise.promise();
      vertx.setTimer(100, t -> awaitServing(p, deadlineNanos).onComplete(later));
      return later.future();
    });
  }

  private String describe() {
    return DriverUnderTest.Command.shown(command);
  }

  /** The last lines of the log, for an error message. */
  String logTail() {
    try {
      List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
      List<String> tail = lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size());
      return tail.isEmpty() ? " (empty)" : System.lineSeparator() + String.join(System.lineSeparator(), tail);
    } catch (IOException | UncheckedIOException e) {
      return " (unreadable: " + e.getMessage() + ")";
    }
  }

  /** SIGKILL to the process and everything it started; completes when they are gone. */
  public Future<Void> kill() {
    CompletableFuture<Process> spawned = spawning;
    if (process == null && spawned.isDone()) {
      return Future.succeededFuture();
    }
    return vertx.executeBlocking(() -> {
      Process p = process != null ? process : spawned.get(10, TimeUnit.SECONDS);
      if (p == null) {
        return null; // the fork failed: nothing to kill
      }
      Set<ProcessHandle> tree = new LinkedHashSet<>();
      tree.add(p.toHandle());
      p.descendants().forEach(tree::add);
      if (ownGroup) {
        killGroup(p.pid());
      }
      tree.forEach(ProcessHandle::destroyForcibly);
      for (ProcessHandle h : tree) {
        try {
          h.onExit().get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
          throw new IllegalStateException(describe() + ": process " + h.pid() + " did not exit within 10 s of SIGKILL", e);
        }
      }
      p.waitFor(10, TimeUnit.SECONDS); // reaps it
      process = null;
      LOG.info("killed {} (pid {}, {} processes)", describe(), p.pid(), tree.size());
      return null;
    }, false);
  }

  /** The process group the setsid'ed command leads; any process still in it is the driver's. */
  private static void killGroup(long pgid) {
    try {
      Process kill = new ProcessBuilder("kill", "-KILL", "--", "-" + pgid).redirectErrorStream(true)
          .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      kill.waitFor(10, TimeUnit.SECONDS);
    } catch (IOException e) {
      LOG.debug("kill of process group {} failed: {}", pgid, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  public boolean alive() {
    Process p = process;
    return p != null && p.isAlive();
  }
}
