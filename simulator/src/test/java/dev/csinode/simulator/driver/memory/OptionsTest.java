package dev.csinode.simulator.driver.memory;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.csinode.simulator.driver.InMemoryDriver;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The options as a scenario file gives them, bound as the scenario engine binds them. */
@Tag("unit")
class OptionsTest {
  final ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  InMemoryDriver.Options read(String text) throws Exception {
    return yaml.readValue(text, InMemoryDriver.Options.class);
  }

  String refusal(String text) {
    return assertThrows(Exception.class, () -> read(text)).getMessage();
  }

  @Test
  void anEmptyMappingIsTheDefaults() throws Exception {
    InMemoryDriver.Options o = read("{}");
    assertEquals(InMemoryDriver.Options.defaults(), o);
    assertEquals("memory.csinode.dev", o.name());
    assertEquals(Duration.ZERO, o.latencyDuration());
    assertEquals(0.0, o.failureRate());
    assertEquals(1L << 40, o.capacityBytes());
    assertEquals(0L, o.maxVolumesPerNode());
    assertEquals(0L, o.seed());
  }

  @Test
  void everyFieldIsBound() throws Exception {
    InMemoryDriver.Options o = read("""
        name: fast.example.com
        latency: 2ms
        failureRate: 0.25
        capacity: 10Gi
        maxVolumesPerNode: 100
        seed: 42
        """);
    assertEquals(new InMemoryDriver.Options("fast.example.com", "2ms", 0.25, "10Gi", 100L, 42L), o);
    assertEquals(Duration.ofMillis(2), o.latencyDuration());
    assertEquals(10L << 30, o.capacityBytes());
  }

  @Test
  void anUnknownFieldIsRefusedByName() {
    var e = assertThrows(UnrecognizedPropertyException.class, () -> read("capcity: 1Gi"));
    assertEquals("capcity", e.getPropertyName());
  }

  @Test
  void aBadValueIsRefusedNamingItsField() {
    assertTrue(refusal("failureRate: 1.5").contains("failureRate 1.5 is not between 0 and 1"), refusal("failureRate: 1.5"));
    assertTrue(refusal("latency: fast").contains("latency 'fast' is not a duration"), refusal("latency: fast"));
    assertTrue(refusal("capacity: lots").contains("capacity 'lots' is not a quantity"), refusal("capacity: lots"));
    assertTrue(refusal("maxVolumesPerNode: -1").contains("maxVolumesPerNode -1"), refusal("maxVolumesPerNode: -1"));
    assertTrue(refusal("name: not a name").contains("name 'not a name'"), refusal("name: not a name"));
  }

  @Test
  void aSeedCanBeGivenLater() {
    assertEquals(9L, InMemoryDriver.Options.defaults().withSeed(9).seed());
  }
}
