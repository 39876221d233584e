package dev.csinode.hostpath;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class BundledHostpathDriverTest {
  @Test
  void theDefaultSettingsAreTheDefaultDriverAndANegativeLimitIsRefused() {
    assertSame(BundledHostpathDriver.INSTANCE, BundledHostpathDriver.withSettings(0, false));
    BundledHostpathDriver limited = BundledHostpathDriver.withSettings(2, true);
    assertNotSame(BundledHostpathDriver.INSTANCE, limited);
    assertEquals(HostpathConfig.DEFAULT_DRIVER_NAME, limited.name());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> BundledHostpathDriver.withSettings(-1, false));
    assertEquals("max volumes per node must not be negative, not -1", e.getMessage());
  }
}
