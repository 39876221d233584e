package dev.csinode.logging;

/**
 * Escapes control characters in text that comes from outside (names, volume handles, drivers' messages) before it
 * reaches a log line or a table: a {@code \n} in a volume handle must not start a line that looks like the agent's,
 * an ESC must not reach the terminal, and a bidi override must not make a line read differently from what it holds.
 */
public final class ControlCharacters {
  private ControlCharacters() {}

  /**
   * {@code \n}, {@code \r}, {@code \t} as such; other C0/C1 controls, DEL, the Unicode line separators and the bidi
   * embeddings, overrides and isolates as {@code \}{@code uXXXX}.
   */
  public static String escape(String s) {
    if (s == null) {
      return null;
    }
    int i = 0;
    while (i < s.length() && !needsEscape(s.charAt(i))) {
      i++;
    }
    if (i == s.length()) {
      return s; // the common case: nothing to copy
    }
    StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!needsEscape(c)) {
        b.append(c);
      } else if (c == '\n') {
        b.append("\\n");
      } else if (c == '\r') {
        b.append("\\r");
      } else if (c == '\t') {
        b.append("\\t");
      } else {
        b.append(String.format("\\u%04x", (int) c));
      }
    }
    return b.toString();
  }

  /**
   * Whether {@link #escape} replaces {@code c}: C0 and C1 controls, DEL, U+2028/U+2029 (line and paragraph
   * separators), U+202A..U+202E (bidi embeddings and overrides) and U+2066..U+2069 (bidi isolates), which let a
   * name make the rest of a terminal line display reversed.
   */
  public static boolean needsEscape(char c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029'
        || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');
  }
}
