package dev.csinode.simulator.proxy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * A rules file for {@code fault-proxy}: a top-level {@code rules:} list of {@link FaultRule}s, nothing else. Every
 * refusal says {@code file:line: what}, naming the rule and the key.
 */
record RulesFile(List<FaultRule> rules) {
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT);

  RulesFile {
    if (rules == null) {
      throw new IllegalArgumentException("rules: is required (a list; write rules: [] for none)");
    }
    FaultRules.checkNames(rules);
  }

  static List<FaultRule> read(Path file) throws InvalidRulesException {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new InvalidRulesException(file + ": cannot read the rules file: " + e.getMessage(), e);
    }
    return parse(text, file.toString());
  }

  static List<FaultRule> parse(String text, String source) throws InvalidRulesException {
    if (text.isBlank()) {
      throw new InvalidRulesException(source + ":1: the file is empty; it needs a rules: list (rules: [] for none)");
    }
    try {
      checkKeys(text, source);
      RulesFile f = YAML.readValue(text, RulesFile.class);
      if (f == null) {
        throw new InvalidRulesException(source + ":1: the file is empty; it needs a rules: list (rules: [] for none)");
      }
      return f.rules();
    } catch (JsonMappingException e) {
      throw new InvalidRulesException(source + ":" + line(e.getLocation()) + ": " + describe(e, text), e);
    } catch (JsonProcessingException e) {
      if (e.getCause() instanceof MarkedYAMLException m && m.getProblemMark() != null) {
        throw new InvalidRulesException(source + ":" + (m.getProblemMark().getLine() + 1) + ": not valid YAML: "
            + (m.getContext() == null ? "" : m.getContext() + ": ") + m.getProblem(), e);
      }
      throw new InvalidRulesException(source + ":" + line(e.getLocation()) + ": not valid YAML: " + e.getOriginalMessage(), e);
    } catch (IOException e) {
      throw new InvalidRulesException(source + ": cannot read the rules: " + e.getMessage(), e);
    }
  }

  /**
   * Unknown keys, each at its own line. Jackson reports them only after it built the rule, so a misspelt key
   * ("acton") would otherwise surface as the missing one it was meant to be.
   */
  private static void checkKeys(String text, String source) throws IOException, InvalidRulesException {
    Set<String> known = Arrays.stream(FaultRule.class.getRecordComponents()).map(RecordComponent::getName)
        .collect(Collectors.toCollection(TreeSet::new));
    try (JsonParser p = YAML.createParser(text)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return; // not a mapping: binding says what is wrong
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        if (!"rules".equals(p.currentName())) {
          throw new InvalidRulesException(source + ":" + line(p.currentTokenLocation()) + ": unknown key '"
              + p.currentName() + "'; a rules file holds one key, rules: (a list)");
        }
        if (p.nextToken() != JsonToken.START_ARRAY) {
          p.skipChildren();
          continue;
        }
        int index = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_ARRAY && t != null; t = p.nextToken(), index++) {
          if (t != JsonToken.START_OBJECT) {
            p.skipChildren();
            continue;
          }
          String name = null;
          String unknown = null;
          JsonLocation at = null;
          while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            JsonLocation keyAt = p.currentTokenLocation();
            JsonToken value = p.nextToken();
            if (key.equals("name") && value == JsonToken.VALUE_STRING) {
              name = p.getText();
            }
            if (!known.contains(key) && unknown == null) {
              unknown = key;
              at = keyAt;
            }
            p.skipChildren();
          }
          if (unknown != null) {
            throw new InvalidRulesException(source + ":" + line(at) + ": rule " + (name != null ? name : "#" + (index + 1))
                + ": unknown key '" + unknown + "'; known keys: " + String.join(", ", known));
          }
        }
      }
    }
  }

  private static String line(JsonLocation at) {
    return at == null || at.getLineNr() < 1 ? "1" : String.valueOf(at.getLineNr());
  }

  /** Where in the file (rules[2], named if it has a name) and what is wrong, without Jackson's class names. */
  private static String describe(JsonMappingException e, String text) {
    String where = where(e.getPath(), text);
    if (e instanceof UnrecognizedPropertyException u) {
      String known = u.getKnownPropertyIds() == null ? "" : "; known keys: "
          + u.getKnownPropertyIds().stream().map(String::valueOf).sorted().collect(Collectors.joining(", "));
      return (where.isEmpty() ? "" : where + ": ") + "unknown key '" + u.getPropertyName() + "'" + known;
    }
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String what = root instanceof IllegalArgumentException ? root.getMessage() : e.getOriginalMessage();
    String field = e.getPath().isEmpty() ? null : e.getPath().get(e.getPath().size() - 1).getFieldName();
    if (root instanceof IllegalArgumentException && what.startsWith("rule ")) {
      return what; // the rule named itself and the field
    }
    if (field != null && !(root instanceof IllegalArgumentException)) {
      what = field + ": " + what;
    }
    return (where.isEmpty() ? "" : where + ": ") + what;
  }

  private static String where(List<JsonMappingException.Reference> path, String text) {
    if (path.size() < 2 || !"rules".equals(path.get(0).getFieldName()) || path.get(1).getIndex() < 0) {
      return "";
    }
    int index = path.get(1).getIndex();
    String name = null;
    try {
      JsonNode n = YAML.readTree(text).path("rules").path(index).path("name");
      name = n.isTextual() ? n.asText() : null;
    } catch (IOException | RuntimeException unreadable) {
      // the rule stays known by its position
    }
    return "rule " + (name != null ? name : "#" + (index + 1));
  }
}
