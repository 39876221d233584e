package dev.csinode.agent.systemd;

import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Tells systemd how the service is doing ({@code Type=notify}): {@code READY=1} once the agent serves, a one-line
 * {@code STATUS=} whenever the summary changes, {@code RELOADING=1}/{@code READY=1} around a reload, {@code STOPPING=1}
 * on the way out, and {@code WATCHDOG=1} pings while every event loop answers (not from a timer that always fires:
 * a blocked loop stops the pings, and systemd restarts the service after {@code WatchdogSec=}).
 *
 * <p>All sending and probing runs on one thread of its own: a full notify socket or a blocked event loop never stalls
 * the agent, and the probe is not itself on a loop it judges. Without {@code NOTIFY_SOCKET} every call is a no-op.
 */
public final class ServiceNotifier implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceNotifier.class);
  /** systemd's variables for the watchdog: the interval in microseconds, and the pid it is meant for. */
  public static final String WATCHDOG_USEC = "WATCHDOG_USEC";
  public static final String WATCHDOG_PID = "WATCHDOG_PID";
  private static final Duration STATUS_PERIOD = Duration.ofSeconds(1);

  private final NotifySocket socket;
  private final Supplier<String> status;
  private final EventLoopProbe loops;
  private final Duration watchdog;
  private final ScheduledExecutorService thread;
  private String lastStatus;
  private boolean ready;
  private boolean stopping;
  private boolean failedOnce;

  /**
   * @param socket   where to send; null: nothing is sent (not under systemd)
   * @param status   the one-line summary (called on the notifier's thread: it must read immutable snapshots only)
   * @param loops    the event loops the watchdog judges
   * @param watchdog how often systemd wants a ping, or null when it wants none
   */
  public ServiceNotifier(NotifySocket socket, Supplier<String> status, EventLoopProbe loops, Duration watchdog) {
    this.socket = socket;
    this.status = status;
    this.loops = loops;
    this.watchdog = watchdog;
    this.thread = socket == null ? null : Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "systemd-notify");
      t.setDaemon(true);
      return t;
    });
  }

  /**
   * The watchdog interval systemd asks of this process, or null: {@code WATCHDOG_USEC} when set, and
   * {@code WATCHDOG_PID} (when set) naming this process.
   *
   * @throws IllegalArgumentException when {@code WATCHDOG_USEC} is not a positive number
   */
  public static Duration watchdogInterval(Map<String, String> env, long pid) {
    String usec = env.get(WATCHDOG_USEC);
    if (usec == null || usec.isEmpty()) {
      return null;
    }
    String forPid = env.get(WATCHDOG_PID);
    if (forPid != null && !forPid.isEmpty() && !forPid.equals(Long.toString(pid))) {
      return null; // meant for another process (a parent that exec'd us without passing it on)
    }
    long micros;
    try {
      micros = Long.parseLong(usec);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(WATCHDOG_USEC + "=" + usec + " is not a number of microseconds");
    }
    if (micros <= 0) {
      throw new IllegalArgumentException(WATCHDOG_USEC + "=" + usec + " is not positive");
    }
    return Duration.ofNanos(micros * 1000);
  }

  /** Whether anything is sent at all. */
  public boolean active() {
    return socket != null;
  }

  /** The agent serves: READY=1 with the first status; then status updates and, if asked for, watchdog pings. */
  public void ready() {
    run(() -> {
      if (stopping) {
        return;
      }
      lastStatus = status.get();
      send("READY=1\nSTATUS=" + lastStatus);
      if (!ready) {
        ready = true;
        thread.scheduleWithFixedDelay(this::updateStatus, STATUS_PERIOD.toMillis(), STATUS_PERIOD.toMillis(), TimeUnit.MILLISECONDS);
        if (watchdog != null) {
          // Half the interval, as sd_watchdog_enabled(3) advises: one late ping does not get the service killed.
          long every = Math.max(1, watchdog.toMillis() / 2);
          thread.scheduleWithFixedDelay(this::ping, 0, every, TimeUnit.MILLISECONDS);
        }
      }
    });
  }

  /**
   * A reload starts. {@code MONOTONIC_USEC} is CLOCK_MONOTONIC now, which systemd 253 and later want with
   * {@code RELOADING=1} ({@code Type=notify-reload}); {@link System#nanoTime()} reads that clock on Linux.
   */
  public void reloading() {
    long usec = System.nanoTime() / 1000;
    run(() -> {
      if (ready && !stopping) { // READY=1 means the sources delivered; a reload never says it earlier or after STOPPING=1
        send("RELOADING=1\nMONOTONIC_USEC=" + usec + "\nSTATUS=reloading the configuration");
      }
    });
  }

  /** The reload is done: READY=1 again, with the status. */
  public void reloaded() {
    run(() -> {
      if (ready && !stopping) {
        lastStatus = status.get();
        send("READY=1\nSTATUS=" + lastStatus);
      }
    });
  }

  /** The agent is stopping (SIGTERM): systemd shows it as deactivating while the agent finishes. */
  public void stopping() {
    run(() -> {
      stopping = true;
      lastStatus = "stopping"; // the status updates that follow would otherwise overwrite it
      send("STOPPING=1\nSTATUS=stopping");
    });
  }

  private void updateStatus() {
    if (stopping) {
      return;
    }
    String now = status.get();
    if (!now.equals(lastStatus)) {
      lastStatus = now;
      send("STATUS=" + now);
    }
  }

  private void ping() {
    try {
      Duration deadline = watchdog.dividedBy(4);
      if (loops.allAnswer(deadline)) {
        send("WATCHDOG=1");
      } else {
        LOG.warn("an event loop did not answer within {} ms: no watchdog ping (systemd restarts the agent if it stays so)",
            deadline.toMillis());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void send(String state) {
    try {
      socket.send(state);
      failedOnce = false;
    } catch (IOException | RuntimeException e) {
      if (!failedOnce) { // once per run of failures: a gone socket would otherwise log every second
        LOG.warn("cannot notify systemd at {}: {}", socket.name(), e.getMessage());
        failedOnce = true;
      }
    }
  }

  private void run(Runnable task) {
    if (thread != null && !thread.isShutdown()) {
      try {
        thread.execute(() -> {
          try {
            task.run();
          } catch (RuntimeException e) {
            LOG.warn("systemd notification failed: {}", e.toString());
          }
        });
      } catch (RejectedExecutionException closed) {
        // closed meanwhile: nothing more to tell
      }
    }
  }

  /** Sends what is queued (STOPPING=1 among it), then stops; bounded. */
  @Override
  public void close() {
    if (thread == null) {
      return;
    }
    thread.shutdown();
    try {
      thread.awaitTermination(2, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    thread.shutdownNow();
    try {
      socket.close();
    } catch (IOException ignored) {
      // the process is ending
    }
  }
}
