package dev.csinode.simulator.proxy;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.vertx.grpc.common.GrpcStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rules as written (the file's keys and its errors with line numbers) and which call a rule picks. */
@Tag("unit")
class FaultRulesTest {
  @TempDir Path dir;

  static CsiMethods.Call stageCall(String volume) {
    return new CsiMethods.Call("NodeStageVolume", true, volume, "/s/" + volume, null);
  }

  static FaultRule fail(String name, String method, String volume, Integer nth, Double probability, Integer times) {
    return new FaultRule(name, method, volume, nth, probability, times, FaultAction.FAIL, null, "UNAVAILABLE", null);
  }

  static String picked(FaultRules rules, CsiMethods.Call call) {
    return rules.decide(call).map(FaultRule::name).orElse("-");
  }

  @Test
  void loadsEveryKeyOfTheDocumentedFormat() throws Exception {
    Path file = dir.resolve("rules.yaml");
    Files.writeString(file, """
        rules:
          - name: stage-times-out
            method: NodeStageVolume
            volume: "pvc-*"
            nth: 2
            probability: 0.25
            times: 3
            action: fail
            delay: 2s
            code: UNAVAILABLE
            message: "injected"
          - name: slow
            method: "*"
            action: delay
            delay: 1m30s
          - name: lost
            method: NodePublishVolume
            action: lose-answer
        """);
    FaultRules rules = FaultRules.load(file, 1);
    assertEquals(List.of("stage-times-out", "slow", "lost"), rules.list().stream().map(FaultRule::name).toList());
    FaultRule r = rules.rule("stage-times-out").orElseThrow();
    assertEquals(new FaultRule("stage-times-out", "NodeStageVolume", "pvc-*", 2, 0.25, 3, FaultAction.FAIL, "2s",
        "UNAVAILABLE", "injected"), r);
    assertEquals(Duration.ofSeconds(2), r.delayDuration());
    assertEquals(GrpcStatus.UNAVAILABLE, r.status());
    assertEquals(Duration.ofSeconds(90), rules.rule("slow").orElseThrow().delayDuration());
    assertEquals(FaultAction.LOSE_ANSWER, rules.rule("lost").orElseThrow().action());
    assertEquals(Optional.empty(), rules.rule("nope"));
  }

  /** The scenario engine embeds the same list in its own documents; the rule binds there with the same checks. */
  @Test
  void bindsAsAListElementOfAnotherDocument() throws Exception {
    record Scenario(String name, List<FaultRule> faults) {}
    ObjectMapper yaml = new ObjectMapper(new YAMLFactory()).enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    Scenario s = yaml.readValue("""
        name: s1
        faults:
          - name: f
            method: NodeUnstageVolume
            action: hang
        """, Scenario.class);
    assertEquals(FaultAction.HANG, s.faults().get(0).action());
    JsonMappingException e = assertThrows(JsonMappingException.class, () -> yaml.readValue("""
        name: s1
        faults:
          - name: f
            method: NodeUnstageVolume
            action: fail
            code: NOPE
        """, Scenario.class));
    assertTrue(e.getMessage().contains("rule f: code: 'NOPE' is not a gRPC error status"), e.getMessage());
    assertTrue(e.getLocation().getLineNr() >= 3, "the error has a line: " + e.getLocation());
    JsonMappingException unknown = assertThrows(JsonMappingException.class, () -> yaml.readValue("""
        name: s1
        faults:
          - name: f
            method: NodeUnstageVolume
            action: hang
            colour: red
        """, Scenario.class));
    assertTrue(unknown.getMessage().contains("colour"), unknown.getMessage());
    // and written back with the same keys
    String written = yaml.writeValueAsString(s.faults().get(0));
    assertTrue(written.contains("action: \"hang\"") || written.contains("action: hang"), written);
    assertFalse(written.contains("delayDuration") || written.contains("status"), written);
  }

  @Test
  void refusesBadFilesWithLineRuleAndField() {
    assertRefused("""
        rules:
          - name: a
            method: NodeStageVolume
            action: fail
            code: UNAVAILABLE
          - name: b
            method: NodeStageVolume
            acton: fail
        """, "rules.yaml:8: rule b: unknown key 'acton'; known keys: action, code, delay, message, method, name, nth, probability, times, volume");
    assertRefused("""
        rules:
          - name: b
            method: NodeStagVolume
            action: fail
            code: UNAVAILABLE
        """, "rule b: method: 'NodeStagVolume' is not a CSI method; use * or one of ", ":6:");
    assertRefused("""
        rules:
          - name: c
            method: NodeStageVolume
            action: explode
        """, "rules.yaml:4: rule c: action: 'explode' is not one of delay, fail, hang, drop, lose-answer");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: fail\n", "rule d: code is required for action fail");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: delay\n", "rule d: delay is required for action delay");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: delay\n    delay: 2 seconds\n",
        "rule d: delay: '2 seconds' is not a duration");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: fail\n    code: OK\n", "rule d: code: 'OK' is not a gRPC error status");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n    code: INTERNAL\n",
        "rule d: code is only for action fail, not hang");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n    probability: 1.5\n",
        "rule d: probability: 1.5 is not between 0 and 1");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n    nth: 0\n", "rule d: nth: 0 is not a call number");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n    nth: 1.5\n", "rules.yaml:5: rule d: nth: ");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n    times: 0\n", "rule d: times: 0 must be at least 1");
    assertRefused("rules:\n  - method: '*'\n    action: hang\n", "rule #1: a rule needs a name");
    assertRefused("rules:\n  - name: 'a b'\n    method: '*'\n    action: hang\n", "name: 'a b' is not a rule name");
    assertRefused("rules:\n  - name: d\n    method: '*'\n    action: hang\n  - name: d\n    method: Probe\n    action: drop\n",
        "rule d: name is used by another rule");
    assertRefused("faults: []\n", "rules.yaml:1: unknown key 'faults'");
    assertRefused("", "rules.yaml:1: the file is empty");
    assertRefused("rules: [\n", "rules.yaml:2: not valid YAML");
  }

  private void assertRefused(String text, String... expected) {
    InvalidRulesException e = assertThrows(InvalidRulesException.class, () -> RulesFile.parse(text, "rules.yaml"));
    for (String part : expected) {
      assertTrue(e.getMessage().contains(part), "expected '" + part + "' in: " + e.getMessage());
    }
    assertTrue(e.getMessage().matches("rules\\.yaml:\\d+: .*"), e.getMessage());
  }

  @Test
  void firstDueRuleAppliesAndEveryConcernedRuleCounts() {
    FaultRules rules = FaultRules.of(List.of(fail("any-once", "NodeStageVolume", null, null, null, 1),
        fail("third-pvc", "NodeStageVolume", "pvc-*", 3, null, null),
        fail("publish", "NodePublishVolume", null, null, null, null)), 1);
    List<String> picked = new ArrayList<>();
    for (String v : List.of("pvc-1", "pvc-2", "x", "pvc-3", "pvc-4")) {
      picked.add(picked(rules, stageCall(v)));
    }
    assertEquals(List.of("any-once", "-", "-", "third-pvc", "-"), picked,
        "pvc-1 went to the first rule but still counted for nth of the second");
    assertEquals(4, rules.seen("third-pvc"));
    assertEquals(1, rules.applied("any-once"));
    assertEquals("-", picked(rules, new CsiMethods.Call("test.Echo/Echo", false, null, null, null)));
  }

  @Test
  void starMatchesEveryCallButAVolumePatternNeedsAVolume() {
    FaultRules rules = FaultRules.of(List.of(fail("vol", "*", "a?c*", null, null, null), fail("all", "*", null, null, null, null)), 1);
    assertEquals("vol", picked(rules, stageCall("abc/d.e")));
    assertEquals("all", picked(rules, stageCall("ac")));
    assertEquals("all", picked(rules, new CsiMethods.Call("GetPluginInfo", true, null, null, null)));
    assertEquals("all", picked(rules, new CsiMethods.Call("test.Echo/Echo", false, null, null, null)));
    assertTrue(FaultRule.glob("a.b*").matcher("a.bxyz").matches());
    assertFalse(FaultRule.glob("a.b*").matcher("axbxyz").matches(), "'.' is literal");
  }

  @Test
  void probabilityIsRepeatableForASeed() {
    FaultRule coin = fail("coin", "*", null, null, 0.3, null);
    List<String> a = draws(FaultRules.of(List.of(coin), 99));
    List<String> b = draws(FaultRules.of(List.of(coin), 99));
    List<String> other = draws(FaultRules.of(List.of(coin), 100));
    assertEquals(a, b);
    assertNotEquals(a, other);
    assertTrue(a.contains("coin") && a.contains("-"), a.toString());
  }

  private static List<String> draws(FaultRules rules) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      out.add(picked(rules, stageCall("v" + i)));
    }
    return out;
  }

  @Test
  void derivedRulesKeepTheCountsOfRulesCarriedOver() {
    FaultRule twice = fail("twice", "NodeStageVolume", null, null, null, 2);
    FaultRule second = fail("second", "NodeStageVolume", null, 2, null, null);
    FaultRules start = FaultRules.of(List.of(twice), 1);
    assertEquals("twice", picked(start, stageCall("a")));
    FaultRules more = start.with(second);
    assertEquals("twice", picked(more, stageCall("b")), "twice has applied once so far");
    assertEquals("second", picked(more, stageCall("c")), "twice is spent; second counts from when it came: c is its 2nd");
    assertEquals(2, more.applied("twice"));
    FaultRules without = more.without("second", "never-there");
    assertEquals(List.of("twice"), without.list().stream().map(FaultRule::name).toList());
    assertEquals("-", picked(without, stageCall("d")), "still spent after the other rule went");
    FaultRules redefined = without.with(fail("twice", "NodeStageVolume", null, null, null, 3));
    assertEquals("twice", picked(redefined, stageCall("e")), "a new definition counts afresh");
    FaultRules reloaded = redefined.replacedBy(List.of(fail("twice", "NodeStageVolume", null, null, null, 3)));
    assertEquals(1, reloaded.applied("twice"), "an equal rule from a reloaded file keeps its count");
    assertThrows(IllegalArgumentException.class, () -> start.with(twice, twice));
    assertThrows(IllegalArgumentException.class, () -> FaultRules.of(List.of(twice, twice), 1));
    assertEquals(1, start.list().size(), "the original is unchanged");
  }
}
