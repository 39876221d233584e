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
 * A driver that registers again under the same name replaces the older entry (its endpoint may have moved).
 * Readers get immutable records; listeners hear of every change.
 */
public final class DriverRegistry {
  private final ConcurrentHashMap<String, RegisteredDriver> drivers = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();

  public Optional<RegisteredDriver> get(String name) {
    return Optional.ofNullable(drivers.get(name));
  }

  public List<RegisteredDriver> all() {
    return drivers.values().stream().sorted(Comparator.comparing(RegisteredDriver::name)).toList();
  }

  public void put(RegisteredDriver d) {
    drivers.put(d.name(), d);
    listeners.forEach(l -> l.accept(d.name()));
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
}
