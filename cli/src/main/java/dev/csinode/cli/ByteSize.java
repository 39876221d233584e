package dev.csinode.cli;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;

/** Parses sizes such as 1073741824, 512M, 10Gi, 1T. */
public final class ByteSize implements ITypeConverter<Long> {
  private static final Pattern PATTERN = Pattern.compile("(\\d+)\\s*([KMGTP]?)(i?)[Bb]?");

  @Override
  public Long convert(String value) {
    return parse(value);
  }

  public static long parse(String value) {
    Matcher m = PATTERN.matcher(value.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + value + "' is not a size; use e.g. 1073741824, 512M or 10Gi");
    }
    long n = Long.parseLong(m.group(1));
    int exp = "KMGTP".indexOf(m.group(2)) + 1;
    long unit = m.group(3).isEmpty() && exp > 0 ? 1000 : 1024;
    for (int i = 0; i < exp; i++) {
      n = Math.multiplyExact(n, unit);
    }
    return n;
  }
}
