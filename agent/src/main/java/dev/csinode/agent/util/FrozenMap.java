package dev.csinode.agent.util;

import java.util.AbstractMap;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * An immutable hash map for the snapshots handed between stages (pod sources, desired state). Two reasons not
 * to use {@link Map#copyOf}: freezing a map this class already froze costs nothing (a stage that changed one kind
 * of object hands the other kinds on as they are), and lookups stay fast with keys whose hash codes are
 * consecutive ({@code default/pod-1}, {@code default/pod-2}, ...), which make the open addressing of
 * {@code Map.copyOf}'s maps probe long runs of neighbours.
 */
public final class FrozenMap<K, V> extends AbstractMap<K, V> {
  private static final FrozenMap<?, ?> EMPTY = new FrozenMap<>(new HashMap<>());
  private final Map<K, V> map;

  private FrozenMap(HashMap<K, V> owned) {
    this.map = owned;
  }

  /** The map itself when it is frozen already, else a frozen copy. Null keys and values are refused. */
  @SuppressWarnings("unchecked")
  public static <K, V> Map<K, V> of(Map<? extends K, ? extends V> m) {
    if (m instanceof FrozenMap<?, ?> f) {
      return (Map<K, V>) f;
    }
    if (m.isEmpty()) {
      return (Map<K, V>) EMPTY;
    }
    HashMap<K, V> copy = new HashMap<>(m);
    copy.forEach((k, v) -> {
      if (k == null || v == null) {
        throw new NullPointerException("a frozen map holds no null key or value");
      }
    });
    return new FrozenMap<>(copy);
  }

  /**
   * A new mutable map with the same entries, to change and {@link #adopt}: copied from a frozen map's own, not through
   * its read-only entries, which {@code new HashMap<>(map)} would make one by one (a stage's copy of thousands of pods
   * on each change).
   */
  public static <K, V> HashMap<K, V> mutableCopy(Map<K, V> m) {
    return m instanceof FrozenMap<K, V> f ? new HashMap<>(f.map) : new HashMap<>(m);
  }

  /** Takes the map without copying it: the caller made it for this and never touches it again. */
  public static <K, V> Map<K, V> adopt(HashMap<K, V> fresh) {
    return fresh.isEmpty() ? of(fresh) : new FrozenMap<>(fresh);
  }

  @Override
  public V get(Object key) {
    return map.get(key);
  }

  @Override
  public boolean containsKey(Object key) {
    return map.containsKey(key);
  }

  @Override
  public int size() {
    return map.size();
  }

  @Override
  public boolean isEmpty() {
    return map.isEmpty();
  }

  @Override
  public void forEach(BiConsumer<? super K, ? super V> action) {
    map.forEach(action);
  }

  @Override
  public Set<Entry<K, V>> entrySet() {
    return Collections.unmodifiableMap(map).entrySet();
  }

  @Override
  public Set<K> keySet() {
    return Collections.unmodifiableSet(map.keySet());
  }

  @Override
  public Collection<V> values() {
    return Collections.unmodifiableCollection(map.values());
  }
}
