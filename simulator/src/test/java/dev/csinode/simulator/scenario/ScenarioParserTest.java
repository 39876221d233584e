package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class ScenarioParserTest {
  private static final String POD = """
      apiVersion: v1
      kind: Pod
      metadata: {name: a, namespace: default}
      spec:
        containers: [{name: app, image: busybox}]
        volumes:
        - name: scratch
          csi: {driver: "{{driver}}"}
      """;

  private static Scenario parse(String text) throws ScenarioException {
    return ScenarioParser.parse("test.yaml", text, relative -> {
      if (relative.equals("objects.yaml")) {
        return POD;
      }
      throw new NoSuchFileException(relative);
    });
  }

  private interface Parse {
    Object run() throws Exception;
  }

  /** The refusal's message, for checks in a row. */
  private record Refusal(String message) {
    Refusal startsWith(String prefix) {
      assertTrue(message.startsWith(prefix), message);
      return this;
    }

    Refusal contains(String part) {
      assertTrue(message.contains(part), message);
      return this;
    }

    Refusal is(String whole) {
      assertEquals(whole, message);
      return this;
    }
  }

  private static Refusal refused(Parse parse) {
    return new Refusal(assertThrows(ScenarioException.class, parse::run).getMessage());
  }

  private static String indent(String text, int spaces) {
    return text.indent(spaces);
  }

  @Test
  void everyStepKindIsBoundToItsRecord() throws ScenarioException {
    Scenario s = parse("""
        name: all-steps
        description: every kind of step once
        seed: 7
        volumeManager: {backoffInitial: 100ms, backoffMax: 2s, csiTimeout: 10s, resyncInterval: 1s}
        faults:
        - {name: stage-unavailable, method: NodeStageVolume, action: fail, code: UNAVAILABLE, times: 2}
        steps:
        - apply: |
        """ + indent(POD, 4) + """
        - apply: {file: objects.yaml}
        - wait-ready: {pod: default/a, timeout: 30s}
        - write-data: {pod: default/a, volume: scratch, file: f.bin, size: 1Mi}
        - verify-data: {pod: default/a, volume: scratch, file: f.bin}
        - restart-agent: {crash: true}
        - restart-driver: {}
        - reboot:
        - faults: {on: [stage-unavailable]}
        - faults: {off: [stage-unavailable]}
        - pods:
            count: 3
            template: |
              apiVersion: v1
              kind: Pod
              metadata: {name: "p-{{i}}"}
              spec: {containers: [{name: app, image: busybox}]}
        - churn:
            rate: 20
            seconds: 1.5
            lifetime: 100ms
            template: |
              apiVersion: v1
              kind: Pod
              metadata: {name: "c-{{i}}"}
              spec: {containers: [{name: app, image: busybox}]}
        - assert: {pod: default/a, ready: true}
        - assert: {volumes: {staged: 1, published: 2}}
        - assert: {metric: {name: csi_operations_seconds_count, labels: {grpc_status_code: OK}, min: 1}}
        - assert: {calls: {method: NodeStageVolume, code: UNAVAILABLE, count: 2}}
        - pause: 2s
        - delete: {kind: Pod, namespace: default, name: a}
        - wait-gone: {pod: default/a}
        - wait-calls: {method: NodeUnstageVolume, code: DEADLINE_EXCEEDED, volume: vol-1, min: 2, timeout: 5s}
        - wait-calls: {method: NodeStageVolume, inFlight: true}
        - assert: {pod: default/a, ready: false, message: NOT_FOUND}
        - stale-registration: {sockets: [old-reg.sock], files: [notes.txt]}
        - remove-vol-data: {pod: default/a, volume: data}
        - restart-agent: {crash: true, forget: [default/a]}
        - stop-driver: {}
        - start-driver:
        - assert-volume: {pod: default/a, volume: scratch, readOnly: true}
        - assert-order: {methods: [NodeStageVolume, NodePublishVolume]}
        - wait-reason: {pod: default/a, text: max_volumes_per_node}
        - wait-provisioned: {claim: default/a-scratch, state: deleted}
        """);
    assertEquals("all-steps", s.name());
    assertEquals(7L, s.seed());
    assertEquals(List.of("stage-unavailable"), s.faults().stream().map(f -> f.name()).toList());
    assertEquals(Duration.ofMillis(100), s.volumeManager().options().backoffInitial());
    assertEquals(Duration.ofSeconds(1), s.volumeManager().options().resyncInterval());
    List<Step> steps = s.steps().stream().map(ScenarioStep::step).toList();
    assertEquals(ScenarioParser.KINDS.keySet(), steps.stream().map(Step::kind).collect(Collectors.toSet()));
    assertEquals(new Step.Apply(POD, null), steps.get(0));
    assertEquals(new Step.Apply(POD, "objects.yaml"), steps.get(1));
    assertEquals(new Step.WaitReady("default/a", Duration.ofSeconds(30)), steps.get(2));
    assertEquals(new Step.WriteData("default/a", "scratch", "f.bin", "1Mi"), steps.get(3));
    assertEquals(new Step.VerifyData("default/a", "scratch", "f.bin"), steps.get(4));
    assertEquals(new Step.RestartAgent(true), steps.get(5));
    assertEquals(new Step.RestartDriver(), steps.get(6));
    assertEquals(new Step.Reboot(), steps.get(7));
    assertEquals(new Step.Faults(List.of("stage-unavailable"), null), steps.get(8));
    assertEquals(new Step.Faults(null, List.of("stage-unavailable")), steps.get(9));
    Step.Pods pods = assertInstanceOf(Step.Pods.class, steps.get(10));
    assertEquals(3, pods.count());
    assertEquals(Duration.ofMinutes(5), pods.timeout(), "the default");
    Step.Churn churn = assertInstanceOf(Step.Churn.class, steps.get(11));
    assertEquals(20.0, churn.rate());
    assertEquals(1.5, churn.seconds());
    assertEquals(Duration.ofMillis(100), churn.lifetime());
    assertEquals(Duration.ofSeconds(60), churn.timeout(), "the default");
    assertEquals(new Step.Assert("default/a", true, null, null, null), steps.get(12));
    assertEquals(new Step.Assert(null, null, new Step.VolumeCounts(1, 2), null, null), steps.get(13));
    assertEquals(new Step.Assert(null, null, null,
        new Step.MetricAssert("csi_operations_seconds_count", Map.of("grpc_status_code", "OK"), 1.0, null, null), null), steps.get(14));
    assertEquals(new Step.Assert(null, null, null, null, new Step.CallsAssert("NodeStageVolume", "UNAVAILABLE", null, 2, null, null)),
        steps.get(15));
    assertEquals(new Step.Pause(Duration.ofSeconds(2)), steps.get(16));
    assertEquals(new Step.Delete("Pod", "default", "a"), steps.get(17));
    assertEquals(new Step.WaitGone("default/a", Duration.ofSeconds(60)), steps.get(18));
    assertEquals(new Step.WaitCalls("NodeUnstageVolume", "DEADLINE_EXCEEDED", "vol-1", 2, false, Duration.ofSeconds(5)), steps.get(19));
    assertEquals(new Step.WaitCalls("NodeStageVolume", null, null, 1, true, Duration.ofSeconds(60)), steps.get(20), "min and timeout defaulted");
    assertEquals(new Step.Assert("default/a", false, "NOT_FOUND", null, null, null), steps.get(21));
    assertEquals(new Step.StaleRegistration(List.of("old-reg.sock"), List.of("notes.txt")), steps.get(22));
    assertEquals(new Step.RemoveVolData("default/a", "data"), steps.get(23));
    assertEquals(new Step.RestartAgent(true, List.of("default/a")), steps.get(24));
    assertEquals(new Step.StopDriver(), steps.get(25));
    assertEquals(new Step.StartDriver(), steps.get(26));
    // Numbered in order, each with the line it starts on.
    assertEquals(1, s.steps().get(0).number());
    assertEquals(18, s.steps().get(2).line());
    assertEquals("step 3 wait-ready", s.steps().get(2).label());
  }

  private static final String HEAD = """
      name: broken
      description: one mistake
      faults:
      - {name: slow, method: NodePublishVolume, action: delay, delay: 1s}
      steps:
      """;

  @Test
  void anUnknownKeyIsRefusedWithItsLine() {
    refused(() -> parse(HEAD + """
        - wait-ready: {pod: default/a}
        - wait-ready:
            pod: default/a
            timout: 30s
        """))
        .startsWith("test.yaml:9:")
        .contains("unknown key \"timout\" in steps[1].wait-ready")
        .contains("known keys: pod, timeout");
  }

  @Test
  void anUnknownTopLevelKeyIsRefusedWithItsLine() {
    refused(() -> parse("name: x\ndescription: y\nstep:\n- pause: 1s\n"))
        .startsWith("test.yaml:3:").contains("unknown key \"step\" at the top level");
  }

  @Test
  void aBadValueIsRefusedWithItsLine() {
    refused(() -> parse(HEAD + """
        - pause: 1s
        - wait-ready:
            pod: default/a
            timeout: soon
        """)).startsWith("test.yaml:9:")
        .contains("bad value for steps[1].wait-ready.timeout")
        .contains("'soon' is not a duration");
    refused(() -> parse(HEAD + """
        - pods:
            count: many
            template: x
        """)).startsWith("test.yaml:7:").contains("steps[0].pods.count")
        .contains("a whole number");
    refused(() -> parse(HEAD + "- pause: 30\n"))
        .startsWith("test.yaml:6:").contains("a duration needs a unit");
    refused(() -> parse(HEAD.replace("seed", "x") + "- restart-agent: {crash: maybe}\n"))
        .startsWith("test.yaml:6:").contains("steps[0].restart-agent.crash");
  }

  @Test
  void anUnknownFaultNameIsRefusedWithTheStepsLine() {
    refused(() -> parse(HEAD + """
        - pause: 1s
        - faults: {on: [slow, fast]}
        """)).startsWith("test.yaml:7:")
        .contains("faults: no fault rule named \"fast\"; the scenario's rules: slow");
  }

  @Test
  void anUnknownStepKindIsRefusedWithItsLine() {
    refused(() -> parse(HEAD + "- pause: 1s\n- sleep: 1s\n"))
        .startsWith("test.yaml:7:").contains("unknown step kind \"sleep\"; known kinds: apply, delete");
  }

  @Test
  void aStepWithTwoKeysIsRefused() {
    refused(() -> parse(HEAD + "- pause: 1s\n  reboot: {}\n"))
        .startsWith("test.yaml:7:").contains("a step has one key");
  }

  @Test
  void stepsAreCheckedAfterBinding() {
    refused(() -> parse(HEAD + "- pause: 1s\n- wait-ready: {pod: a}\n"))
        .startsWith("test.yaml:7:3: wait-ready: pod \"a\" is not namespace/name");
    refused(() -> parse(HEAD + "- apply: {file: missing.yaml}\n"))
        .startsWith("test.yaml:6:3: apply: no file missing.yaml");
    refused(() -> parse(HEAD + "- apply: |\n    kind: Pod\n    metadata: {name: '{{driverName}}'}\n"))
        .contains("unknown placeholder {{driverName}}; known here: {{driver}}");
    refused(() -> parse(HEAD + "- pods: {count: 2, template: 'kind: Pod'}\n"))
        .contains("the template has no {{i}}");
    refused(() -> parse(HEAD + "- verify-data: {pod: default/a, volume: v, file: f}\n"))
        .contains("no earlier write-data writes f");
    refused(() -> parse(HEAD + "- write-data: {pod: default/a, volume: v, file: ../f, size: 1Mi}\n"))
        .contains("must be a plain file name");
    refused(() -> parse(HEAD + "- write-data: {pod: default/a, volume: v, file: f, size: lots}\n"))
        .contains("size 'lots' is not a quantity");
    refused(() -> parse(HEAD + "- assert: {pod: default/a, ready: true, volumes: {staged: 1}}\n"))
        .contains("assert one thing");
    refused(() -> parse(HEAD + "- assert: {calls: {method: NodeStageVolume}}\n"))
        .contains("give min, max or an exact value (count)");
    refused(() -> parse(HEAD + "- wait-ready: {pod: default/a, timeout: 0s}\n"))
        .contains("timeout must be a positive duration");
  }

  @Test
  void theScenarioItselfIsChecked() {
    refused(() -> parse("description: d\nsteps: [{pause: 1s}]\n")).is("test.yaml:1:1: the scenario has no name");
    refused(() -> parse("name: Bad_Name\ndescription: d\nsteps: [{pause: 1s}]\n")).contains("is not a name");
    refused(() -> parse("name: n\ndescription: d\nsteps: []\n")).contains("no steps");
    refused(() -> parse("")).contains("the file is empty");
    refused(() -> parse("name: n\nname: m\n")).startsWith("test.yaml:2:").contains("Duplicate field 'name'");
  }

  @Test
  void placeholdersAreRendered() {
    assertEquals("d=hostpath.csinode.dev i=12", ManifestTemplate.render("d={{driver}} i={{ i }}", "hostpath.csinode.dev", 12));
  }

  @Test
  void unreadableIncludesSayWhy() {
    refused(() -> ScenarioParser.parse("t.yaml", HEAD + "- apply: {file: x.yaml}\n", r -> {
      throw new IOException("permission denied");
    })).contains("cannot read x.yaml: permission denied");
  }

  @Test
  void hugeCountsRatesAndSizesAreRefusedWithTheirLine() {
    String template = "template: '{kind: Pod, apiVersion: v1, metadata: {name: \"p-{{i}}\"}}'";
    refused(() -> parse(HEAD + "- pods: {count: 100001, " + template + "}\n"))
        .startsWith("test.yaml:6:").contains("count must be at most 100000, not 100001");
    refused(() -> parse(HEAD + "- churn: {rate: 1e10, seconds: 1, " + template + "}\n"))
        .startsWith("test.yaml:6:").contains("rate must be at most 10000 pods per second");
    refused(() -> parse(HEAD + "- churn: {rate: 10000, seconds: 11, " + template + "}\n"))
        .startsWith("test.yaml:6:").contains("rate * seconds (110000 pods) must be at most 100000");
    refused(() -> parse(HEAD + "- write-data: {pod: default/a, volume: v, file: f, size: 2Gi}\n"))
        .startsWith("test.yaml:6:").contains("size 2Gi is more than write-data writes (at most 1Gi)");
  }

  @Test
  void waitCallsIsCheckedWithItsLine() {
    refused(() -> parse(HEAD + "- pause: 1s\n- wait-calls: {code: OK}\n"))
        .startsWith("test.yaml:7:").contains("wait-calls: method is missing");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStage}\n"))
        .startsWith("test.yaml:6:").contains("method \"NodeStage\" is not a CSI method").contains("NodeStageVolume");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, code: TIMEOUT}\n"))
        .startsWith("test.yaml:6:").contains("code \"TIMEOUT\" is not a gRPC status name").contains("DEADLINE_EXCEEDED");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, min: 0}\n"))
        .startsWith("test.yaml:6:").contains("min must be at least 1, not 0");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, code: OK, inFlight: true}\n"))
        .startsWith("test.yaml:6:").contains("give code or inFlight: true, not both");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, timeout: 0s}\n"))
        .startsWith("test.yaml:6:").contains("timeout must be a positive duration");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, volume: ''}\n"))
        .startsWith("test.yaml:6:").contains("volume is empty");
    refused(() -> parse(HEAD + "- wait-calls: {method: NodeStageVolume, inflight: true}\n"))
        .startsWith("test.yaml:6:").contains("unknown key \"inflight\"");
  }

  @Test
  void aPodMessageIsCheckedWithItsLine() {
    refused(() -> parse(HEAD + "- assert: {pod: default/a, ready: false, message: ' '}\n"))
        .startsWith("test.yaml:6:").contains("assert: message is empty");
    refused(() -> parse(HEAD + "- assert: {volumes: {staged: 1}, message: NOT_FOUND}\n"))
        .startsWith("test.yaml:6:").contains("message belongs to a pod assertion");
  }
}
