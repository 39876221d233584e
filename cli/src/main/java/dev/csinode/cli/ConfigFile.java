package dev.csinode.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.csinode.util.GoDuration;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The agent's config file ({@code /etc/csi-node-agent/config.yaml}, {@code run --config FILE}): a flat YAML map whose
 * keys are {@code run}'s flags without the dashes ({@code root-dir}, {@code backoff-max}, ...) plus {@code log-level}
 * and {@code log-levels} (a map of logger name to level). Every value is checked here, with its line, so that a typo
 * stops the start naming the file, line and key, not a flag the operator never typed.
 *
 * @param values the options by key, as text ({@code run} converts them as it converts its flags)
 * @param logLevels the levels by logger name; the root logger's under {@link #ROOT_LOGGER}
 */
public record ConfigFile(Path path, Map<String, String> values, Map<String, String> logLevels) {
  /** The key of the root logger's level in {@link #logLevels}. */
  public static final String ROOT_LOGGER = "ROOT";
  /** Where an installed agent reads its configuration. */
  public static final Path DEFAULT_PATH = Path.of("/etc/csi-node-agent/config.yaml");
  private static final long MAX_SIZE = 1 << 20;
  private static final Set<String> LEVELS = Set.of("trace", "debug", "info", "warn", "error", "off");
  private static final Pattern LOGGER = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*(\\.[A-Za-z_$][A-Za-z0-9_$]*)*");

  /** What a key holds: how its value is checked. */
  enum Kind { PATH, TEXT, BOOLEAN, DURATION, COUNT, SIZE }

  /** The keys, in the order {@code run --help} lists the flags. */
  static final Map<String, Kind> KEYS = keys();

  public ConfigFile {
    values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    logLevels = Collections.unmodifiableMap(new LinkedHashMap<>(logLevels));
  }

  private static Map<String, Kind> keys() {
    Map<String, Kind> k = new LinkedHashMap<>();
    k.put("root-dir", Kind.PATH);
    k.put("node-name", Kind.TEXT);
    k.put("api-socket", Kind.PATH);
    k.put("with-hostpath-driver", Kind.BOOLEAN);
    k.put("pod-manifests", Kind.PATH);
    k.put("metrics-address", Kind.TEXT);
    k.put("drain-on-exit", Kind.BOOLEAN);
    k.put("api-max-body-size", Kind.SIZE);
    k.put("probe-interval", Kind.DURATION);
    k.put("max-parallel-operations", Kind.COUNT);
    k.put("backoff-initial", Kind.DURATION);
    k.put("backoff-max", Kind.DURATION);
    k.put("resync-period", Kind.DURATION);
    k.put("csi-timeout", Kind.DURATION);
    k.put("volume-stats-period", Kind.DURATION);
    k.put("remove-orphans", Kind.BOOLEAN);
    k.put("log-format", Kind.TEXT);
    return Collections.unmodifiableMap(k);
  }

  /** A config file that cannot be used: the message names the file, the line and the key. */
  public static final class InvalidConfigException extends Exception {
    InvalidConfigException(String message) {
      super(message);
    }
  }

  /** Reads and checks the file. */
  public static ConfigFile read(Path path) throws InvalidConfigException {
    String text;
    try {
      // A FIFO or a device (/dev/zero) reports no size and would be read forever.
      if (Files.exists(path) && !Files.isRegularFile(path)) {
        throw new InvalidConfigException(path + ": not a regular file; give the config file itself");
      }
      if (Files.size(path) > MAX_SIZE) {
        throw new InvalidConfigException(path + ": larger than " + MAX_SIZE + " bytes; this is not a config file");
      }
      text = Files.readString(path);
    } catch (NoSuchFileException e) {
      throw new InvalidConfigException(path + ": no such config file");
    } catch (IOException e) {
      throw new InvalidConfigException(path + ": cannot read: " + e.getMessage());
    }
    return parse(path, text);
  }

  /** Checks the text of the file at {@code path} (which names it in messages). */
  public static ConfigFile parse(Path path, String text) throws InvalidConfigException {
    Map<String, String> values = new LinkedHashMap<>();
    Map<String, String> levels = new LinkedHashMap<>();
    try (JsonParser p = new YAMLFactory().createParser(text)) {
      JsonToken first = p.nextToken();
      if (first == null) {
        return new ConfigFile(path, values, levels); // empty, or only comments: every default
      }
      if (first != JsonToken.START_OBJECT) {
        throw new InvalidConfigException(at(path, p) + "the file must be a map of keys (such as root-dir: /var/lib/kubelet)");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String key = p.currentName();
        int line = line(p);
        JsonToken value = p.nextToken();
        if (values.containsKey(key) || (key.equals("log-levels") || key.equals("log-level")) && seen(levels, key)) {
          throw new InvalidConfigException(path + ":" + line + ": " + key + ": given twice");
        }
        if (key.equals("log-levels")) {
          readLevels(path, p, value, levels);
        } else if (key.equals("log-level")) {
          levels.put(ROOT_LOGGER, level(path, line, key, scalar(path, p, key, value)));
        } else {
          Kind kind = KEYS.get(key);
          if (kind == null) {
            throw new InvalidConfigException(path + ":" + line + ": unknown key \"" + TerminalText.text(key) + "\"; known keys: "
                + String.join(", ", new TreeMap<>(KEYS).keySet()) + ", log-level, log-levels");
          }
          values.put(key, check(path, line, key, kind, scalar(path, p, key, value)));
        }
      }
    } catch (JsonProcessingException e) {
      var loc = e.getLocation();
      throw new InvalidConfigException(path + ":" + (loc == null ? 1 : loc.getLineNr()) + ": not valid YAML: "
          + TerminalText.text(e.getOriginalMessage()));
    } catch (IOException e) {
      throw new InvalidConfigException(path + ": cannot read: " + e.getMessage());
    }
    return new ConfigFile(path, values, levels);
  }

  private static boolean seen(Map<String, String> levels, String key) {
    // log-level sets the root logger; log-levels may name ROOT too, but not twice.
    return key.equals("log-level") ? levels.containsKey(ROOT_LOGGER) : levels.keySet().stream().anyMatch(k -> !k.equals(ROOT_LOGGER));
  }

  private static void readLevels(Path path, JsonParser p, JsonToken value, Map<String, String> levels) throws IOException,
      InvalidConfigException {
    if (value != JsonToken.START_OBJECT) {
      throw new InvalidConfigException(at(path, p) + "log-levels: a map of logger name to level (e.g. dev.csinode.agent: debug)");
    }
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String logger = p.currentName();
      int line = line(p);
      String where = "log-levels." + TerminalText.text(logger);
      if (!logger.equals(ROOT_LOGGER) && !LOGGER.matcher(logger).matches()) {
        throw new InvalidConfigException(path + ":" + line + ": " + where + ": not a logger name (dot-separated Java names, or ROOT)");
      }
      if (levels.containsKey(logger)) {
        throw new InvalidConfigException(path + ":" + line + ": " + where + ": given twice");
      }
      levels.put(logger, level(path, line, where, scalar(path, p, where, p.nextToken())));
    }
  }

  private static String scalar(Path path, JsonParser p, String key, JsonToken value) throws IOException, InvalidConfigException {
    if (value == null || !value.isScalarValue()) {
      throw new InvalidConfigException(at(path, p) + TerminalText.text(key) + ": needs a single value, not a map or a list");
    }
    return value == JsonToken.VALUE_NULL ? "" : p.getText();
  }

  private static String level(Path path, int line, String key, String value) throws InvalidConfigException {
    String lower = value.toLowerCase(Locale.ROOT);
    if (!LEVELS.contains(lower)) {
      throw new InvalidConfigException(path + ":" + line + ": " + key + ": \"" + TerminalText.text(value)
          + "\" is not a level; one of trace, debug, info, warn, error, off");
    }
    return lower;
  }

  private static String check(Path path, int line, String key, Kind kind, String value) throws InvalidConfigException {
    String where = path + ":" + line + ": " + key + ": ";
    String shown = "\"" + TerminalText.text(value) + "\"";
    switch (kind) {
      case BOOLEAN -> {
        if (!value.equals("true") && !value.equals("false")) {
          throw new InvalidConfigException(where + shown + " is not true or false");
        }
      }
      case DURATION -> {
        try {
          if (GoDuration.parse(value).isNegative()) {
            throw new IllegalArgumentException("negative");
          }
        } catch (IllegalArgumentException e) {
          throw new InvalidConfigException(where + shown + " is not a duration in Go notation (such as 500ms, 10s, 2m2s)");
        }
      }
      case COUNT -> {
        try {
          if (Integer.parseInt(value) < 1) {
            throw new NumberFormatException();
          }
        } catch (NumberFormatException e) {
          throw new InvalidConfigException(where + shown + " is not a whole number of at least 1");
        }
      }
      case SIZE -> {
        try {
          ByteSize.parse(value);
        } catch (IllegalArgumentException | ArithmeticException e) {
          throw new InvalidConfigException(where + shown + " is not a size (such as 4Mi or 1048576)");
        }
      }
      case PATH -> {
        if (value.isEmpty() || value.indexOf('\0') >= 0 || !value.startsWith("/")) {
          throw new InvalidConfigException(where + shown + " is not an absolute path");
        }
      }
      case TEXT -> {
        if (key.equals("log-format") && !value.equals("text") && !value.equals("json")) {
          throw new InvalidConfigException(where + shown + " is not text or json");
        }
        if (key.equals("node-name") && value.isBlank()) {
          throw new InvalidConfigException(where + "empty; leave the key out to use the host name");
        }
        if (value.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
          throw new InvalidConfigException(where + "control characters are not allowed");
        }
      }
    }
    return value;
  }

  private static int line(JsonParser p) {
    return Math.max(1, p.currentTokenLocation().getLineNr());
  }

  private static String at(Path path, JsonParser p) {
    return path + ":" + line(p) + ": ";
  }

  /** A key's value as picocli's default for {@code --KEY}, or null when the file does not give it. */
  public String defaultFor(String longOption) {
    return longOption.startsWith("--") ? values.get(longOption.substring(2)) : null;
  }
}
