package dev.csinode.agent.podsource;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** What a malformed or hostile manifest yields: an error that names the problem, never a crash. */
@Tag("unit")
class ManifestParserLimitsTest {
  @Test
  void malformedJsonIsAnErrorNamingWhereItBroke() {
    var r = ManifestParser.parse(Path.of("request"), "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"");
    assertTrue(r.objects().isEmpty());
    assertEquals(1, r.errors().size(), r.errors().toString());
    assertTrue(r.errors().get(0).startsWith("request: document 1 is not valid YAML or JSON: "), r.errors().get(0));
    assertTrue(r.errors().get(0).length() > "request: document 1 is not valid YAML or JSON: ".length() + 5, r.errors().get(0));
  }

  @Test
  void deeplyNestedDocumentsAreRefusedWithoutBlowingTheStack() {
    for (String deep : new String[] {"[".repeat(200_000), "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000),
        "kind: List\nitems:\n- kind: List\n  items: " + "[".repeat(300_000)}) {
      var r = ManifestParser.parse(Path.of("request"), deep);
      assertTrue(r.objects().isEmpty());
      assertEquals(1, r.errors().size(), r.errors().toString());
      assertTrue(r.errors().get(0).contains("nest"), r.errors().get(0));
    }
  }

  @Test
  void nestingJustWithinTheLimitIsMappedOnTheLaunchersSmallStack() throws Exception {
    int depth = ManifestParser.MAX_NESTING_DEPTH - 2; // the pod object and its "x" field are two levels
    String pod = "{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}, \"x\": " + "{\"a\": ".repeat(depth) + "1" + "}".repeat(depth) + "}";
    var result = new AtomicReference<ManifestParser.Result>();
    Thread t = new Thread(null, () -> result.set(ManifestParser.parse(Path.of("request"), pod)), "small-stack", 512 * 1024);
    t.start();
    t.join();
    assertEquals(1, result.get().objects().size(), result.get().errors().toString());
    var over = ManifestParser.parse(Path.of("request"), "{\"kind\": \"Pod\", \"x\": " + "[".repeat(depth + 2) + "]".repeat(depth + 2) + "}");
    assertTrue(over.errors().get(0).contains("nesting depth"), over.errors().toString());
  }

  @Test
  void nestedListsWithinTheLimitStillWork() {
    var r = ManifestParser.parse(Path.of("request"), """
        {"kind": "List", "items": [{"kind": "List", "items": [{"kind": "Secret", "metadata": {"name": "s"}}]}]}
        """);
    assertEquals(1, r.objects().size(), r.errors().toString());
  }
}
