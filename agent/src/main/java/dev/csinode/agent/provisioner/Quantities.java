package dev.csinode.agent.provisioner;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Storage sizes written as Kubernetes quantities ({@code 1Gi}, {@code 500M}, {@code 1.5e9}), to bytes, exactly:
 * fractions of a byte round up as in Kubernetes, and a value that does not fit a {@code long} (CSI's
 * {@code required_bytes}) is an error instead of wrapping around. The grammar is Kubernetes':
 * a signed decimal number, then a binary suffix (Ki..Ei), a decimal suffix (n, u, m, k, M..E) or an exponent
 * ({@code e3}, {@code E-2}).
 */
public final class Quantities {
  private static final Pattern QUANTITY = Pattern.compile(
      "([+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE]([+-]?[0-9]+))?");
  private static final BigDecimal MAX = BigDecimal.valueOf(Long.MAX_VALUE);
  /** 10^100 is far beyond any long; an exponent beyond it need not be computed to be refused. */
  private static final int MAX_EXPONENT = 100;

  private Quantities() {}

  /** Bytes of a storage size; {@link IllegalArgumentException} saying why when not a positive size that fits a long. */
  /** {@link #bytes(String)} of a fabric8 quantity (its amount and format, as written). */
  public static long bytes(io.fabric8.kubernetes.api.model.Quantity q) {
    return bytes((q.getAmount() == null ? "" : q.getAmount()) + (q.getFormat() == null ? "" : q.getFormat()));
  }

  public static long bytes(String quantity) {
    if (quantity == null || quantity.isEmpty()) {
      throw new IllegalArgumentException("is empty; a size such as 1Gi is needed");
    }
    Matcher m = QUANTITY.matcher(quantity);
    if (!m.matches()) {
      throw new IllegalArgumentException("'" + quantity + "' is not a quantity (a number and an optional suffix: Ki, Mi, Gi, Ti, Pi, Ei, "
          + "k, M, G, T, P, E, m, or an exponent such as e9)");
    }
    BigDecimal value = new BigDecimal(m.group(1));
    String suffix = m.group(2) == null ? "" : m.group(2);
    if (value.signum() < 0) {
      throw new IllegalArgumentException("'" + quantity + "' is negative");
    }
    if (value.signum() == 0) {
      throw new IllegalArgumentException("'" + quantity + "' is zero; a storage size must be greater than zero");
    }
    value = switch (suffix) {
      case "Ki" -> value.multiply(BigDecimal.valueOf(1L << 10));
      case "Mi" -> value.multiply(BigDecimal.valueOf(1L << 20));
      case "Gi" -> value.multiply(BigDecimal.valueOf(1L << 30));
      case "Ti" -> value.multiply(BigDecimal.valueOf(1L << 40));
      case "Pi" -> value.multiply(BigDecimal.valueOf(1L << 50));
      case "Ei" -> value.multiply(BigDecimal.valueOf(1L << 60));
      case "" -> value;
      default -> value.scaleByPowerOfTen(exponent(suffix, m.group(3), quantity));
    };
    if (value.compareTo(MAX) > 0) {
      throw new IllegalArgumentException("'" + quantity + "' is more than " + Long.MAX_VALUE + " bytes");
    }
    return value.setScale(0, RoundingMode.CEILING).longValueExact();
  }

  private static int exponent(String suffix, String digits, String quantity) {
    int e = switch (suffix) {
      case "n" -> -9;
      case "u" -> -6;
      case "m" -> -3;
      case "k" -> 3;
      case "M" -> 6;
      case "G" -> 9;
      case "T" -> 12;
      case "P" -> 15;
      case "E" -> 18;
      default -> {
        BigDecimal exp = new BigDecimal(digits);
        if (exp.compareTo(BigDecimal.valueOf(MAX_EXPONENT)) > 0) {
          throw new IllegalArgumentException("'" + quantity + "' is more than " + Long.MAX_VALUE + " bytes");
        }
        // Anything below 10^-100 of a byte is still a byte once rounded up: no need for a longer scale.
        yield exp.compareTo(BigDecimal.valueOf(-MAX_EXPONENT)) < 0 ? -MAX_EXPONENT : exp.intValueExact();
      }
    };
    return e;
  }
}
