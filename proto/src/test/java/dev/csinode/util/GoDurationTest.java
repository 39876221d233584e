package dev.csinode.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class GoDurationTest {
  @Test
  void parsesTheFlagsNotation() {
    assertEquals(Duration.ofMillis(500), GoDuration.parse("500ms"));
    assertEquals(Duration.ofSeconds(122), GoDuration.parse("2m2s"));
    assertEquals(Duration.ofHours(1).plusSeconds(30), GoDuration.parse("1h30s"));
    for (String bad : new String[] {"", "3x", "-1s", "1.5s", "s", "10"}) {
      assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(bad), bad);
    }
  }

  /** Too large for a long or for a Duration: the same IllegalArgumentException, naming the text, never another kind. */
  @Test
  void aDurationTooLargeIsAnIllegalArgumentNamingIt() {
    for (String big : new String[] {"99999999999999999999h", "9999999999999999h", "9223372036854775807s1s"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(big), big);
      assertEquals("'" + big + "' is too large a duration; use e.g. 500ms, 1s, 2m or 2m2s", e.getMessage());
    }
  }

  @Test
  void formatsWhatItParses() {
    assertEquals("0s", GoDuration.format(Duration.ZERO));
    assertEquals("500ms", GoDuration.format(Duration.ofMillis(500)));
    assertEquals("2m2s", GoDuration.format(Duration.ofSeconds(122)));
    assertEquals("1s500ms", GoDuration.format(Duration.ofMillis(1500)));
    assertEquals("1h0m30s", GoDuration.format(Duration.ofSeconds(3630)));
    for (long ms : new long[] {1, 999, 1000, 60_000, 61_001, 3_600_000, 86_400_123}) {
      assertEquals(Duration.ofMillis(ms), GoDuration.parse(GoDuration.format(Duration.ofMillis(ms))), "round trip of " + ms + " ms");
    }
  }
}
