package dev.csinode.agent.provisioner;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** Kubernetes' quantity grammar to bytes, with no silent overflow. */
@Tag("unit")
class QuantitiesTest {
  @Test
  void sizesAreExactBytes() {
    assertEquals(1L << 30, Quantities.bytes("1Gi"));
    assertEquals(1_500_000_000L, Quantities.bytes("1.5G"));
    assertEquals(1_000, Quantities.bytes("1e3"));
    assertEquals(1_000, Quantities.bytes("1E3"));
    assertEquals(123, Quantities.bytes("123"));
    assertEquals(3L << 19, Quantities.bytes("1.5Mi"));
    assertEquals(7L << 60, Quantities.bytes("7Ei"));
    assertEquals(5_000_000_000_000_000_000L, Quantities.bytes("5E"));
    assertEquals(1, Quantities.bytes("1m"), "a fraction of a byte rounds up, as in Kubernetes");
    assertEquals(1, Quantities.bytes("1e-400"));
    assertEquals(2, Quantities.bytes("1.5"));
    assertEquals(1024, Quantities.bytes("+1Ki"));
    assertEquals(Long.MAX_VALUE, Quantities.bytes(Long.toString(Long.MAX_VALUE)));
  }

  @Test
  void overflowNegativeAndMalformedSizesAreErrors() {
    assertTrue(error("8Ei").contains("more than 9223372036854775807 bytes"), "2^63 overflowed to a negative long");
    assertTrue(error("100Ei").contains("more than"), "overflowed silently");
    assertTrue(error("9223372036854775808").contains("more than"));
    assertTrue(error("1e19").contains("more than"));
    assertTrue(error("1e999999999999").contains("more than"));
    assertTrue(error("-1Gi").contains("negative"));
    assertTrue(error("0").contains("zero"));
    assertTrue(error("12Gü").contains("'12Gü' is not a quantity"));
    for (String bad : new String[] {"", "Gi", "1 Gi", "1gi", "1Gi ", "1..2", ".", "1e", "Infinity", "NaN", "0x10", "1KiB", "--1"}) {
      assertThrows(IllegalArgumentException.class, () -> Quantities.bytes(bad), bad);
    }
  }

  private static String error(String q) {
    return assertThrows(IllegalArgumentException.class, () -> Quantities.bytes(q), q).getMessage();
  }
}
