package dev.csinode.logging;

/**
 * Escapes control characters in text that comes from outside (names, volume handles, drivers' messages) before it
 * reaches a log line or a table: a {@code \n} in a volume handle must not start a line that looks like the agent's.
 */
public final class ControlCharacters {
  private ControlCharacters() {}

  /** {@code \n}, {@code \r}, {@code \t} as such; other C0/C1 controls, DEL and the Unicode line separators as {@code \}{@code uXXXX}. */
  public static String escape(String s) {
    if (s == null) {
      return null;
    }
    int i = 0;
    while (i < s.length() && !isControl(s.charAt(i))) {
      i++;
    }
    if (i == s.length()) {
      return s; // the common case: nothing to copy
    }
    StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (!isControl(c)) {
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

  private static boolean isControl(char c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u2028' || c == '\u2029';
  }
}
