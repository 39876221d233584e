package dev.csinode.simulator.scenario;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes objects as a scenario writes them: {@code {{driver}}} stands for the driver's name (so one scenario runs
 * against any driver), and in a pod template {@code {{i}}} for the copy's index. Any other placeholder is refused
 * when the scenario is read, rather than rendered as nothing.
 */
public final class ManifestTemplate {
  public static final String DRIVER = "driver";
  public static final String INDEX = "i";
  private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{\\s*([^}]*?)\\s*}}");

  private ManifestTemplate() {}

  /** The placeholders in the text that are not among {@code allowed}, in order. */
  public static List<String> unknownPlaceholders(String text, Set<String> allowed) {
    List<String> unknown = new ArrayList<>();
    Matcher m = PLACEHOLDER.matcher(text);
    while (m.find()) {
      if (!allowed.contains(m.group(1))) {
        unknown.add(m.group());
      }
    }
    return unknown;
  }

  public static boolean uses(String text, String placeholder) {
    Matcher m = PLACEHOLDER.matcher(text);
    while (m.find()) {
      if (m.group(1).equals(placeholder)) {
        return true;
      }
    }
    return false;
  }

  /** The text with the driver's name and the index in place ({@code index} < 0: no index placeholder expected). */
  public static String render(String text, String driver, int index) {
    Matcher m = PLACEHOLDER.matcher(text);
    StringBuilder out = new StringBuilder(text.length() + 16);
    while (m.find()) {
      String value = switch (m.group(1)) {
        case DRIVER -> driver;
        case INDEX -> Integer.toString(index);
        default -> throw new IllegalArgumentException("unknown placeholder " + m.group());
      };
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }
}
