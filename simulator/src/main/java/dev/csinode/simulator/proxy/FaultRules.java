package dev.csinode.simulator.proxy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * The fault rules in force, immutable; chosen per call in order, the first that matches applies. Probabilities draw
 * from a random source seeded by the scenario's seed, so a run is repeatable.
 *
 * <p>Instances derived with {@link #with}, {@link #without} and {@link #replacedBy} share the random source and
 * the counts of the rules they carry over (a rule's count of matching calls, for {@code nth}, and of applications,
 * for {@code times}): turning one rule off does not restart another's count. A rule replaced by a different
 * definition under the same name starts counting afresh.
 */
public final class FaultRules {
  private final List<FaultRule> rules;
  private final List<Count> counts;
  private final Source source;

  /** The mutable part behind the immutable lists, guarded by the shared source. */
  private static final class Count {
    long seen;
    long applied;
  }

  /** One seeded random source, shared by the instances derived from one another; also their lock. */
  private static final class Source {
    final Random random;

    Source(long seed) {
      random = new Random(seed);
    }
  }

  private FaultRules(List<FaultRule> rules, List<Count> counts, Source source) {
    this.rules = List.copyOf(rules);
    this.counts = List.copyOf(counts);
    this.source = source;
  }

  public static FaultRules none() {
    return of(List.of(), 0);
  }

  /** These rules, in order, with fresh counts and a random source seeded by {@code seed}. */
  public static FaultRules of(List<FaultRule> rules, long seed) {
    checkNames(rules);
    List<Count> counts = new ArrayList<>();
    rules.forEach(r -> counts.add(new Count()));
    return new FaultRules(rules, counts, new Source(seed));
  }

  /** The rules of a rules file (a top-level {@code rules:} list). */
  public static FaultRules load(Path file, long seed) throws InvalidRulesException {
    return of(RulesFile.read(file), seed);
  }

  public List<FaultRule> list() {
    return rules;
  }

  public Optional<FaultRule> rule(String name) {
    return rules.stream().filter(r -> r.name().equals(name)).findFirst();
  }

  public boolean isEmpty() {
    return rules.isEmpty();
  }

  /** These rules added at the end, or in place of the rule in force with the same name. */
  public FaultRules with(FaultRule... added) {
    Map<String, FaultRule> byName = new LinkedHashMap<>();
    rules.forEach(r -> byName.put(r.name(), r));
    Set<String> seen = new HashSet<>();
    for (FaultRule r : added) {
      if (!seen.add(r.name())) {
        throw new IllegalArgumentException("fault rule " + r.name() + " is given twice");
      }
      byName.put(r.name(), r);
    }
    return replacedBy(List.copyOf(byName.values()));
  }

  /** Without the named rules; a name not in force is ignored (turning a rule off twice is harmless). */
  public FaultRules without(String... names) {
    Set<String> gone = Set.of(Arrays.stream(names).distinct().toArray(String[]::new));
    return replacedBy(rules.stream().filter(r -> !gone.contains(r.name())).toList());
  }

  /**
   * Exactly these rules, in this order (a reloaded rules file): a rule equal to one in force keeps its counts, the
   * others start afresh; the random source goes on.
   */
  public FaultRules replacedBy(List<FaultRule> next) {
    checkNames(next);
    List<Count> nextCounts = new ArrayList<>();
    for (FaultRule r : next) {
      int i = rules.indexOf(r);
      nextCounts.add(i >= 0 ? counts.get(i) : new Count());
    }
    return new FaultRules(next, nextCounts, source);
  }

  /** How many times the named rule has been applied, in this instance and those it was derived from. */
  public long applied(String name) {
    int i = indexOf(name);
    synchronized (source) {
      return counts.get(i).applied;
    }
  }

  /** How many calls matched the named rule's method and volume while it was in force. */
  public long seen(String name) {
    int i = indexOf(name);
    synchronized (source) {
      return counts.get(i).seen;
    }
  }

  /**
   * The rule that applies to this call, counted: every rule that concerns the call counts it (so nth counts the
   * node's calls, whichever rule took them), then the first that is due, not spent and wins its draw applies.
   */
  Optional<FaultRule> decide(CsiMethods.Call call) {
    synchronized (source) {
      List<Integer> concerned = new ArrayList<>();
      for (int i = 0; i < rules.size(); i++) {
        if (rules.get(i).concerns(call)) {
          counts.get(i).seen++;
          concerned.add(i);
        }
      }
      for (int i : concerned) {
        FaultRule r = rules.get(i);
        Count c = counts.get(i);
        if (r.nth() != null && c.seen != r.nth()) {
          continue;
        }
        if (r.times() != null && c.applied >= r.times()) {
          continue;
        }
        if (r.probability() != null && source.random.nextDouble() >= r.probability()) {
          continue;
        }
        c.applied++;
        return Optional.of(r);
      }
      return Optional.empty();
    }
  }

  private int indexOf(String name) {
    for (int i = 0; i < rules.size(); i++) {
      if (rules.get(i).name().equals(name)) {
        return i;
      }
    }
    throw new IllegalArgumentException("no fault rule named " + name + " is in force");
  }

  static void checkNames(List<FaultRule> rules) {
    Set<String> names = new HashSet<>();
    for (FaultRule r : rules) {
      if (r == null) {
        throw new IllegalArgumentException("a rule in the list is empty");
      }
      if (!names.add(r.name())) {
        throw new IllegalArgumentException("rule " + r.name() + ": name is used by another rule; names must be unique");
      }
    }
  }

  @Override
  public String toString() {
    return rules.isEmpty() ? "no fault rules" : rules.size() + " fault rules " + rules.stream().map(FaultRule::name).toList();
  }
}
