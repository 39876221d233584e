package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** AgentJson gives what an ObjectMapper's readTree and indented writeValueAsString give, for what the agent sends and more. */
@Tag("unit")
class AgentJsonTest {
  static final List<String> DOCUMENTS = List.of(
      "{\"pod\":\"default/p\",\"ready\":true,\"volumes\":[{\"name\":\"v\",\"lastError\":null,\"n\":3}],\"errors\":[],\"o\":{}}",
      "[1, -2, 2147483648, -9223372036854775809, 12345678901234567890123, 0.5, -1.25e-7, 1e300, 3.0, 1E2, 0]",
      "{\"a\":1,\"b\":2,\"a\":{\"x\":[]}}", // a repeated key: its first place, its last value
      "{\"text\":\"tab\\t nl\\n esc\\u001b del\\u007f c1\\u009b bidi\\u202e ls\\u2028 quote\\\" slash\\\\ \\/ é 😀\"}",
      "\"just a string\"", "42", "null", "true", "[]", "{}", "", "   ",
      "{\"first\":1} {\"second\":2}", // the first value only, as readTree with its default features
      "[[[{\"deep\":[null,false,{}]}]]]");

  /** An escape of every character above 0x7e, as TerminalText's escapes do for some: every path is taken. */
  static final CharacterEscapes ESCAPE_ALL_ABOVE_ASCII = new CharacterEscapes() {
    private final int[] ascii = standardAsciiEscapesForJSON();

    @Override
    public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    @Override
    public com.fasterxml.jackson.core.SerializableString getEscapeSequence(int ch) {
      return new com.fasterxml.jackson.core.io.SerializedString(String.format("\\u%04x", ch));
    }
  };

  @Test
  void readsTheTreesTheMapperReads() throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    for (String doc : DOCUMENTS) {
      assertEquals(mapper.readTree(doc), AgentJson.read(doc), doc);
    }
  }

  @Test
  void writesWhatTheIndentingMapperWrites() throws IOException {
    for (CharacterEscapes escapes : List.of(new CharacterEscapes() {
          @Override
          public int[] getEscapeCodesForAscii() {
            return standardAsciiEscapesForJSON();
          }

          @Override
          public com.fasterxml.jackson.core.SerializableString getEscapeSequence(int ch) {
            return null;
          }
        }, ESCAPE_ALL_ABOVE_ASCII)) {
      ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
      mapper.getFactory().setCharacterEscapes(escapes);
      for (String doc : DOCUMENTS) {
        assertEquals(mapper.writeValueAsString(mapper.readTree(doc)), AgentJson.indented(AgentJson.read(doc), escapes), doc);
      }
    }
  }

  @Test
  void whatIsNotJsonIsAnError() {
    for (String notJson : List.of("{\"a\":", "[1,", "{a:1}", "nul", "<html>", "{\"a\":1,}")) {
      assertThrows(IOException.class, () -> new ObjectMapper().readTree(notJson), notJson);
      assertThrows(IOException.class, () -> AgentJson.read(notJson), notJson);
    }
  }
}
