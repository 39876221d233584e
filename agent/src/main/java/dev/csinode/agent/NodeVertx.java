package dev.csinode.agent;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;

/**
 * The Vert.x instance of the node daemons ({@code run} and the benchmark that measures it; {@code hostpath-driver} and
 * {@code registrar} when they run as processes of their own, so a driver's pod gets the same sizing), sized for a node daemon
 * rather than for a server: Vert.x's defaults (two event loops per core, 20 workers, 20 internal blocking threads)
 * are for a process that has the machine to itself. The agent's work is one reconciler context and, when bundled,
 * the driver's verticle; its blocking work is short syscalls (mkdir, stat, rename) and the driver's own worker pool
 * does the mounts.
 */
public final class NodeVertx {
  /**
   * Event loops: the agent's context and the bundled driver's verticle each get one (contexts take the loops in
   * turn), and nothing else keeps a loop busy (the API and metrics servers answer a few requests). A fixed number,
   * not per core: on a large node more loops would be threads started for nothing, and the systemd watchdog's
   * {@code EventLoopProbe} puts a task on every loop, so it starts every one of them.
   */
  static final int EVENT_LOOPS = 2;

  /**
   * Workers for {@code executeBlocking}: the volume operations' directory work, the journal's and the housekeeping's
   * file work. Each task is a few syscalls on a local filesystem, so a few threads keep 2 cores busy; the default 20
   * were each used for 1/20 of the same work in {@code scripts/bench.sh}. Blocking CSI calls do not run here (they
   * are asynchronous gRPC), nor do the driver's mounts (its own pool).
   */
  static final int WORKERS = 8;

  /** Vert.x's own blocking work (file system API, DNS resolution at start): rare in the agent. */
  static final int INTERNAL_BLOCKING = 4;

  private NodeVertx() {
  }

  public static VertxOptions options() {
    return new VertxOptions()
        .setEventLoopPoolSize(EVENT_LOOPS)
        .setWorkerPoolSize(WORKERS)
        .setInternalBlockingPoolSize(INTERNAL_BLOCKING);
  }

  public static Vertx create() {
    return Vertx.vertx(options());
  }
}
