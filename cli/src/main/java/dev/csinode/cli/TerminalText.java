package dev.csinode.cli;

import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.databind.JsonNode;
import dev.csinode.logging.ControlCharacters;

/**
 * What the CLI prints that came from its input or from the agent (names, paths, handles, drivers' messages, the
 * agent's answers), made safe for a terminal: a newline in a name cannot start a line of its own, an ESC or a bidi
 * override cannot reach the terminal.
 */
final class TerminalText {
  /** Every character {@link ControlCharacters} escapes, written as a JSON escape. */
  private static final CharacterEscapes JSON_ESCAPES = new JsonEscapes();

  private TerminalText() {}

  /** Text, with control characters escaped. */
  static String text(Object s) {
    return ControlCharacters.escape(String.valueOf(s));
  }

  /**
   * A JSON answer of the agent, as JSON still: the same document, with the characters a terminal would act on written
   * as {@code \}{@code uXXXX} escapes (the agent's encoder escapes only C0 controls). Not JSON: escaped as text.
   */
  static String json(String body) {
    try {
      return AgentJson.indented(AgentJson.read(body), JSON_ESCAPES);
    } catch (Exception notJson) {
      return text(body);
    }
  }

  /** An error answer of the agent on one line: its {@code error} message, or the whole body if it has none. */
  static String agentError(String body) {
    try {
      JsonNode error = AgentJson.read(body).path("error");
      if (error.isTextual()) {
        return text(error.asText());
      }
    } catch (Exception notJson) {
      // shown as it came, escaped
    }
    return text(body);
  }

  /** JSON's own escapes, plus DEL, the C1 controls, the line separators and the bidi controls. */
  private static final class JsonEscapes extends CharacterEscapes {
    private final int[] ascii = standardAsciiEscapesForJSON();

    JsonEscapes() {
      ascii[0x7f] = ESCAPE_STANDARD;
    }

    @Override
    public int[] getEscapeCodesForAscii() {
      return ascii;
    }

    @Override
    public SerializableString getEscapeSequence(int ch) {
      return ch <= 0xffff && ControlCharacters.needsEscape((char) ch) ? new SerializedString(String.format("\\u%04x", ch)) : null;
    }
  }
}
