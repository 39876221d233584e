package dev.csinode.simulator.report;

/**
 * Text made legal for XML 1.0. Some characters cannot appear in an XML 1.0 document at all, not even as a character
 * reference (most C0 controls, U+FFFE, U+FFFF, a lone surrogate); one of them in a driver's message would make the
 * whole JUnit file unreadable to a CI server, so each is written as the text {@code \}{@code uXXXX}.
 */
final class XmlText {
  private XmlText() {}

  static String legal(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      boolean pair = Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
      if (pair) {
        if (b != null) {
          b.append(c).append(s.charAt(i + 1));
        }
        i++;
      } else if (allowed(c)) {
        if (b != null) {
          b.append(c);
        }
      } else {
        if (b == null) {
          b = new StringBuilder(s.length() + 16).append(s, 0, i);
        }
        b.append(String.format("\\u%04x", (int) c));
      }
    }
    return b == null ? s : b.toString();
  }

  /** XML 1.0's Char production for one UTF-16 unit that is not part of a surrogate pair. */
  private static boolean allowed(char c) {
    return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd);
  }
}
