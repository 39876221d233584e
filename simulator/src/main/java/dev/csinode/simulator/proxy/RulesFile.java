package dev.csinode.simulator.proxy;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

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
    try {
      RulesFile f = YAML.readValue(text, RulesFile.class);
      if (f == null) {
        throw new InvalidRulesException(source + ":1: the file is empty; it needs a rules: list (rules: [] for none)");
      }
      return f.rules();
    } catch (JsonMappingException e) {
      throw new InvalidRulesException(source + ":" + line(e.getLocation()) + ": " + describe(e, text), e);
    } catch (JsonProcessingException e) {
      throw new InvalidRulesException(source + ":" + line(e.getLocation()) + ": not valid YAML: " + e.getOriginalMessage(), e);
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
