package dev.csinode.plugins.csi;

import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The registered CSI drivers by name: where the rest of the agent looks up a driver's endpoint and node facts.
 * Which registration holds a name is the plugin manager's decision (the kubelet's rule: a second registration
 * of a name replaces the first only with a strictly higher version); this map records it.
 * Readers get immutable records; listeners hear of every change, on the thread that made it.
 */
public final class DriverRegistry {
  private final ConcurrentHashMap<String, RegisteredDriver> drivers = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private final List<Consumer<String>> availability = new CopyOnWriteArrayList<>();

  /** Ends a listener's subscription. */
  public interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  public Optional<RegisteredDriver> get(String name) {
    return Optional.ofNullable(drivers.get(name));
  }

  public List<RegisteredDriver> all() {
    return drivers.values().stream().sorted(Comparator.comparing(RegisteredDriver::name)).toList();
  }

  public void put(RegisteredDriver d) {
    RegisteredDriver before = drivers.put(d.name(), d);
    listeners.forEach(l -> l.accept(d.name()));
    if (d.healthy() && (before == null || !before.healthy() || !sameRegistration(before, d))) {
      availability.forEach(l -> l.accept(d.name()));
    }
  }

  private static boolean sameRegistration(RegisteredDriver a, RegisteredDriver b) {
    return a.registrationSocket().equals(b.registrationSocket()) && a.endpoint().equals(b.endpoint())
        && a.registeredAtMillis() == b.registeredAtMillis();
  }

  /** Removes the driver only if the entry still comes from this registration socket. */
  public boolean remove(String name, Path registrationSocket) {
    RegisteredDriver d = drivers.get(name);
    if (d != null && d.registrationSocket().equals(registrationSocket) && drivers.remove(name, d)) {
      listeners.forEach(l -> l.accept(name));
      return true;
    }
    return false;
  }

  /** Called with the driver name after every change. */
  public void onChange(Consumer<String> listener) {
    listeners.add(listener);
  }

  /**
   * Called with the driver name whenever a driver becomes usable: it registers (first time, again, or from a new
   * socket or endpoint) or turns healthy again. Work that failed because the driver was away can be retried at
   * once. Runs on the thread that changed the registry, after the change is visible; keep it short. Lives until
   * the returned subscription is closed.
   */
  public Subscription onAvailable(Consumer<String> driverName) {
    availability.add(driverName);
    return () -> availability.remove(driverName);
  }
}
