package dev.csinode.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.MissingNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TreeTraversingParser;
import java.io.IOException;
import java.io.StringWriter;

/**
 * The agent's JSON answers as a tree, and back to indented text, with Jackson's streaming parser and generator and
 * its tree nodes, not an {@code ObjectMapper}: the mapper's class initialisation alone (its default date format: the
 * time-zone database, a calendar, the JDK's locale providers) and the deserializers it looks up for a tree cost a
 * short command like {@code status} some 40 ms of its 250. The results are the mapper's: {@link #read} gives the
 * tree {@code readTree} gives (a repeated key keeps its first place and its last value, nothing after the first value
 * is read, no content is the missing node), {@link #indented} the text {@code writeValueAsString} gives with
 * {@code INDENT_OUTPUT} (AgentJsonTest compares them).
 */
final class AgentJson {
  private static final JsonFactory JSON = new JsonFactory();
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private AgentJson() {}

  /** The document's first value as a tree; an error if it is not JSON. */
  static JsonNode read(String text) throws IOException {
    try (JsonParser p = JSON.createParser(text)) {
      return p.nextToken() == null ? MissingNode.getInstance() : value(p);
    }
  }

  /** The value at the parser's current token, as the mapper's tree deserializer makes it. */
  private static JsonNode value(JsonParser p) throws IOException {
    JsonToken t = p.currentToken();
    switch (t) {
      case START_OBJECT:
        ObjectNode object = NODES.objectNode();
        for (String name = p.nextFieldName(); name != null; name = p.nextFieldName()) {
          p.nextToken();
          object.set(name, value(p));
        }
        return object;
      case START_ARRAY:
        ArrayNode array = NODES.arrayNode();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          array.add(value(p));
        }
        return array;
      case VALUE_STRING:
        return NODES.textNode(p.getText());
      case VALUE_NUMBER_INT:
        return switch (p.getNumberType()) {
          case INT -> NODES.numberNode(p.getIntValue());
          case LONG -> NODES.numberNode(p.getLongValue());
          default -> NODES.numberNode(p.getBigIntegerValue());
        };
      case VALUE_NUMBER_FLOAT:
        return NODES.numberNode(p.getDoubleValue());
      case VALUE_TRUE:
        return NODES.booleanNode(true);
      case VALUE_FALSE:
        return NODES.booleanNode(false);
      case VALUE_NULL:
        return NODES.nullNode();
      default:
        throw new IOException("unexpected JSON token " + t + " at " + p.currentLocation());
    }
  }

  /** The tree as indented JSON, in the mapper's layout ({@code "key" : value}, two spaces), with these escapes. */
  static String indented(JsonNode tree, CharacterEscapes escapes) throws IOException {
    StringWriter out = new StringWriter();
    try (JsonGenerator g = JSON.createGenerator(out).useDefaultPrettyPrinter().setCharacterEscapes(escapes)) {
      if (tree.isMissingNode()) {
        g.writeNull(); // as the mapper writes it
      } else {
        try (JsonParser nodes = new TreeTraversingParser(tree)) {
          nodes.nextToken();
          g.copyCurrentStructure(nodes);
        }
      }
    }
    return out.toString();
  }
}
