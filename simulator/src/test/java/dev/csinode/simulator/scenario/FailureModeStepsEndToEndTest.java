package dev.csinode.simulator.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * wait-calls and the pod message of assert, through the runner with the in-memory driver (no root): each holds when
 * it should and fails, with what it found, when it should not.
 */
class FailureModeStepsEndToEndTest {
  static final String SCENARIO = """
      name: steps
      description: wait-calls and the pod's message
      driver: {inMemory: {}}
      volumeManager: {backoffInitial: 100ms, backoffMax: 200ms, csiTimeout: 2s}
      faults:
      - {name: publish-not-found, method: NodePublishVolume, action: fail, code: NOT_FOUND, message: gone}
      - {name: slow-unpublish, method: NodeUnpublishVolume, action: delay, delay: 1s}
      steps:
      - faults: {on: [publish-not-found, slow-unpublish]}
      - apply: |
          apiVersion: storage.k8s.io/v1
          kind: CSIDriver
          metadata: {name: "{{driver}}"}
          spec: {attachRequired: false, podInfoOnMount: true, volumeLifecycleModes: [Persistent]}
          ---
          apiVersion: storage.k8s.io/v1
          kind: StorageClass
          metadata: {name: simulated}
          provisioner: "{{driver}}"
          reclaimPolicy: Delete
          ---
          apiVersion: v1
          kind: PersistentVolumeClaim
          metadata: {name: data, namespace: default}
          spec:
            storageClassName: simulated
            accessModes: [ReadWriteOnce]
            resources: {requests: {storage: 64Mi}}
          ---
          apiVersion: v1
          kind: Pod
          metadata: {name: a, namespace: default}
          spec:
            containers: [{name: app, image: busybox, volumeMounts: [{name: data, mountPath: /data}]}]
            volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
      - wait-calls: {method: NodePublishVolume, code: NOT_FOUND, min: 3, timeout: 10s}
      - assert: {pod: default/a, ready: false, message: "NOT_FOUND: gone"}
      - assert: {pod: default/a, ready: false, message: DEADLINE_EXCEEDED}
      - wait-calls: {method: NodeStageVolume, code: INTERNAL, timeout: 300ms}
      - faults: {off: [publish-not-found]}
      - wait-ready: {pod: default/a, timeout: 10s}
      - delete: {kind: Pod, namespace: default, name: a}
      - wait-calls: {method: NodeUnpublishVolume, inFlight: true, timeout: 10s}
      - assert: {calls: {method: NodeUnpublishVolume, count: 0}}
      - wait-calls: {method: NodeUnpublishVolume, code: OK, timeout: 10s}
      - wait-gone: {pod: default/a, timeout: 10s}
      """;

  @TempDir Path dir;

  @Test
  void eachStepHoldsOrSaysWhatItFound() throws ScenarioException {
    Scenario s = ScenarioParser.parse("steps.yaml", SCENARIO, relative -> {
      throw new NoSuchFileException(relative);
    });
    ScenarioResult r = new ScenarioRunner(new ScenarioRunner.Options(dir, null, false, null)).run(s, 1);
    assertNull(r.error(), () -> String.valueOf(r.checks()));
    Map<String, Check> checks = r.checks().stream().collect(Collectors.toMap(Check::name, Function.identity()));
    Function<String, String> failure = name -> {
      assertTrue(checks.containsKey(name), () -> name + " in " + checks.keySet());
      return checks.get(name).failure();
    };
    assertNull(failure.apply("step 3 wait-calls NodePublishVolume NOT_FOUND >= 3"));
    assertNull(failure.apply("step 4 assert pod default/a not ready saying \"NOT_FOUND: gone\""));
    String noText = failure.apply("step 5 assert pod default/a not ready saying \"DEADLINE_EXCEEDED\"");
    assertTrue(noText != null && noText.contains("does not contain \"DEADLINE_EXCEEDED\"") && noText.contains("NOT_FOUND: gone"),
        String.valueOf(noText));
    String never = failure.apply("step 6 wait-calls NodeStageVolume INTERNAL");
    assertTrue(never != null && never.contains("0 matching call(s) within 300 ms, 1 wanted") && never.contains("OK=1"),
        String.valueOf(never));
    assertNull(failure.apply("step 8 wait-ready default/a"));
    assertNull(failure.apply("step 10 wait-calls NodeUnpublishVolume in flight"));
    // In flight: held 1 s by the delay rule, so none has finished yet.
    assertNull(failure.apply("step 11 assert calls NodeUnpublishVolume = 0"));
    assertNull(failure.apply("step 12 wait-calls NodeUnpublishVolume OK"));
    assertNull(failure.apply("step 13 wait-gone default/a"));
    assertEquals(2, r.checks().stream().filter(c -> !c.passed()).count(), () -> String.valueOf(r.checks()));
  }
}
