package dev.csinode.cli;

import dev.csinode.agent.Agent;
import dev.csinode.agent.systemd.ServiceNotifier;
import dev.csinode.util.GoDuration;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/**
 * {@code run}'s reload (SIGHUP, the unit's ExecReload): re-reads the config file, applies what can change while the
 * agent runs (log levels, probe interval, backoff bounds, resync period) and says in the log what changed and what
 * takes a restart. A flag given on the command line still wins over the file. An invalid file changes nothing.
 */
final class ConfigReload {
  private static final Logger LOG = LoggerFactory.getLogger(ConfigReload.class);
  /** The keys a reload applies; every other key takes a restart. */
  static final Set<String> RELOADABLE = Set.of("probe-interval", "backoff-initial", "backoff-max", "resync-period");

  private final Path file;
  private final CommandSpec run;
  private final Agent agent;
  private final ServiceNotifier notifier;
  /** The file's values when the agent started (or last reloaded), by key: a restart-only key that differs is reported. */
  private Map<String, String> applied;
  private Map<String, String> appliedLevels;

  ConfigReload(Path file, CommandSpec run, ConfigFile atStart, Agent agent, ServiceNotifier notifier) {
    this.file = file;
    this.run = run;
    this.agent = agent;
    this.notifier = notifier;
    this.applied = effective(atStart);
    this.appliedLevels = atStart == null ? Map.of() : atStart.logLevels();
  }

  /** One reload; never throws: a failed reload leaves everything as it was and says why. */
  synchronized void reload() {
    notifier.reloading();
    try {
      if (file == null) {
        LOG.info("reload: run has no --config file: nothing to re-read");
        return;
      }
      ConfigFile config;
      try {
        config = ConfigFile.read(file);
      } catch (ConfigFile.InvalidConfigException e) {
        LOG.error("reload: {}; nothing changed", e.getMessage());
        return;
      }
      Map<String, String> next = effective(config);
      List<String> changed;
      try {
        changed = agent.reload(new Agent.RuntimeSettings(duration(next, "probe-interval"), duration(next, "backoff-initial"),
            duration(next, "backoff-max"), duration(next, "resync-period")));
      } catch (IllegalArgumentException e) {
        LOG.error("reload: {}: {}; nothing changed", file, e.getMessage());
        return;
      }
      List<String> levels = levels(config.logLevels());
      for (String key : ConfigFile.KEYS.keySet()) {
        if (!RELOADABLE.contains(key) && !Objects.equals(applied.get(key), next.get(key))) {
          LOG.warn("reload: {} changed in {} ({} -> {}): it takes effect at the next restart", key, file,
              shown(applied.get(key)), shown(next.get(key)));
        }
      }
      for (String key : RELOADABLE) {
        if (given(key) && config.values().containsKey(key) && !config.values().get(key).equals(next.get(key))) {
          LOG.info("reload: {} in {} is ignored: the command line gives {} and wins", key, file, next.get(key));
        }
      }
      changed.addAll(levels);
      LOG.info("reload of {}: {}", file, changed.isEmpty() ? "nothing changed" : "changed " + String.join(", ", changed));
      applied = next;
    } finally {
      notifier.reloaded();
    }
  }

  /** Sets the file's levels; a logger the file no longer names gets back the level the log set-up (NodeLogConfigurator) gave it. */
  private List<String> levels(Map<String, String> next) {
    List<String> changed = new ArrayList<>();
    Map<String, String> all = new LinkedHashMap<>(appliedLevels);
    next.forEach(all::putIfAbsent);
    for (String name : all.keySet()) {
      String was = appliedLevels.get(name);
      String is = next.get(name);
      if (Objects.equals(was, is)) {
        continue;
      }
      LogLevels.set(name, is);
      changed.add("log level of " + name + " " + (was == null ? "(default)" : was) + " -> " + (is == null ? "(default)" : is));
    }
    appliedLevels = next;
    return changed;
  }

  /** Each key's value as run uses it: the command line's when given there, else the file's, else run's default. */
  private Map<String, String> effective(ConfigFile config) {
    Map<String, String> out = new HashMap<>();
    for (String key : ConfigFile.KEYS.keySet()) {
      OptionSpec o = run.findOption("--" + key);
      if (o == null) {
        continue;
      }
      ParseResult parsed = run.commandLine().getParseResult();
      if (parsed != null && parsed.hasMatchedOption(o)) {
        List<String> values = parsed.matchedOption(o.longestName()).stringValues();
        // An on/off flag (--x or --no-x) has no text: its value is what the command line made of it.
        out.put(key, values.isEmpty() ? String.valueOf((Object) o.getValue()) : values.get(values.size() - 1));
      } else if (config != null && config.values().containsKey(key)) {
        out.put(key, config.values().get(key));
      } else {
        out.put(key, o.defaultValue());
      }
    }
    return out;
  }

  private boolean given(String key) {
    ParseResult parsed = run.commandLine().getParseResult();
    OptionSpec o = run.findOption("--" + key);
    return parsed != null && o != null && parsed.hasMatchedOption(o);
  }

  private static Duration duration(Map<String, String> values, String key) {
    return GoDuration.parse(values.get(key));
  }

  private static String shown(String value) {
    return value == null ? "(default)" : value.isEmpty() ? "\"\"" : value;
  }
}
