package dev.csinode.agent.systemd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.NodeVertx;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The notify protocol against a test datagram socket, as systemd would receive it. */
class ServiceNotifierTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  @TempDir Path dir;
  private final Vertx vertx = NodeVertx.create(); // the daemon's: its probe judges every one of its loops

  @AfterEach
  void close() {
    vertx.close().await();
  }

  @Test
  void readyCarriesTheStatusAndLaterChangesAreSent() throws Exception {
    AtomicReference<String> status = new AtomicReference<>("0 drivers registered");
    try (NotifyListener systemd = NotifyListener.atPath(dir.resolve("notify"))) {
      ServiceNotifier n = new ServiceNotifier(NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", systemd.address)), status::get,
          new EventLoopProbe(vertx), null);
      assertTrue(n.active());
      n.ready();
      assertEquals("READY=1\nSTATUS=0 drivers registered", systemd.next(WAIT));
      status.set("1 driver registered");
      assertEquals("STATUS=1 driver registered", systemd.next(WAIT));
      assertNull(systemd.next(Duration.ofMillis(1500)), "an unchanged status is not sent again");
      n.reloading();
      String reloading = systemd.next(WAIT);
      assertTrue(reloading.matches("RELOADING=1\nMONOTONIC_USEC=\\d+\nSTATUS=reloading the configuration"), reloading);
      long usec = Long.parseLong(reloading.split("\n")[1].substring("MONOTONIC_USEC=".length()));
      assertTrue(Math.abs(System.nanoTime() / 1000 - usec) < 10_000_000, "MONOTONIC_USEC is CLOCK_MONOTONIC now: " + usec);
      n.reloaded();
      assertEquals("READY=1\nSTATUS=1 driver registered", systemd.next(WAIT));
      n.stopping();
      assertEquals("STOPPING=1\nSTATUS=stopping", systemd.next(WAIT));
      n.close();
    }
  }

  /** READY=1 means the sources delivered: a reload before that, or after STOPPING=1, says nothing. */
  @Test
  void aReloadNeverSaysReadyBeforeReadyOrAfterStopping() throws Exception {
    try (NotifyListener systemd = NotifyListener.atPath(dir.resolve("notify"))) {
      ServiceNotifier n = new ServiceNotifier(NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", systemd.address)), () -> "up",
          new EventLoopProbe(vertx), null);
      n.reloading();
      n.reloaded();
      n.ready();
      assertEquals("READY=1\nSTATUS=up", systemd.next(WAIT), "nothing before READY: the early reload sent nothing");
      n.stopping();
      assertEquals("STOPPING=1\nSTATUS=stopping", systemd.next(WAIT));
      n.reloading();
      n.reloaded();
      n.ready();
      assertNull(systemd.next(Duration.ofMillis(1500)), "nothing after STOPPING=1, not even a status update");
      n.close();
    }
  }

  @Test
  void abstractSocketsWork() throws Exception {
    String name = "csi-node-agent-test-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
    try (NotifyListener systemd = NotifyListener.abstractNamed(name)) {
      ServiceNotifier n = new ServiceNotifier(NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", "@" + name)), () -> "up",
          new EventLoopProbe(vertx), null);
      n.ready();
      assertEquals("READY=1\nSTATUS=up", systemd.next(WAIT));
      n.close();
    }
  }

  /** The pings come from every event loop answering: a blocked loop stops them, and they resume when it is free. */
  @Test
  void watchdogPingsStopWhileAnEventLoopIsBlocked() throws Exception {
    try (NotifyListener systemd = NotifyListener.atPath(dir.resolve("notify"))) {
      ServiceNotifier n = new ServiceNotifier(NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", systemd.address)), () -> "up",
          new EventLoopProbe(vertx), Duration.ofMillis(400));
      n.ready();
      systemd.until(d -> d.equals("WATCHDOG=1"), WAIT);
      systemd.until(d -> d.equals("WATCHDOG=1"), WAIT);
      CountDownLatch release = new CountDownLatch(1);
      CountDownLatch blocked = new CountDownLatch(1);
      vertx.runOnContext(v -> {
        blocked.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      blocked.await();
      // A probe whose tasks all ran before the block may still ping: what arrives within one ping period is not judged.
      while (systemd.next(Duration.ofMillis(200)) != null) {
        // discard
      }
      // Several watchdog periods with the loop blocked: not one ping.
      List<String> during = new ArrayList<>();
      long end = System.nanoTime() + Duration.ofMillis(1600).toNanos();
      while (System.nanoTime() < end) {
        String d = systemd.next(Duration.ofMillis(100));
        if (d != null) {
          during.add(d);
        }
      }
      assertFalse(during.contains("WATCHDOG=1"), "no ping while an event loop is blocked: " + during);
      release.countDown();
      systemd.until(d -> d.equals("WATCHDOG=1"), WAIT);
      n.close();
    }
  }

  @Test
  @Tag("unit")
  void withoutNotifySocketNothingIsSent() {
    assertNull(NotifySocket.fromEnvironment(Map.of()));
    assertNull(NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", "")));
    ServiceNotifier n = new ServiceNotifier(null, () -> "x", null, null);
    assertFalse(n.active());
    n.ready();
    n.stopping();
    n.close();
    assertEquals("NOTIFY_SOCKET=relative/x is neither an absolute socket path nor an abstract name starting with @",
        assertThrows(IllegalArgumentException.class, () -> NotifySocket.fromEnvironment(Map.of("NOTIFY_SOCKET", "relative/x")))
            .getMessage());
  }

  @Test
  @Tag("unit")
  void watchdogIntervalFollowsSystemdsVariables() {
    assertNull(ServiceNotifier.watchdogInterval(Map.of(), 42));
    assertEquals(Duration.ofSeconds(20), ServiceNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "20000000"), 42));
    assertEquals(Duration.ofSeconds(20), ServiceNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "20000000", "WATCHDOG_PID", "42"), 42));
    assertNull(ServiceNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "20000000", "WATCHDOG_PID", "7"), 42), "meant for another pid");
    assertThrows(IllegalArgumentException.class, () -> ServiceNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "soon"), 42));
    assertThrows(IllegalArgumentException.class, () -> ServiceNotifier.watchdogInterval(Map.of("WATCHDOG_USEC", "0"), 42));
  }
}
