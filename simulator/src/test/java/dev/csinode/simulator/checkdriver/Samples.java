package dev.csinode.simulator.checkdriver;

import dev.csinode.simulator.report.Check;
import dev.csinode.simulator.report.ScenarioResult;
import dev.csinode.simulator.scenario.Scenario;
import dev.csinode.simulator.scenario.ScenarioException;
import dev.csinode.simulator.scenario.ScenarioParser;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Scenarios, capabilities and results for the check-driver unit tests. */
final class Samples {
  static final DriverCapabilities HOSTPATH_LIKE = new DriverCapabilities("hostpath.csinode.dev", "0.1.0",
      Set.of("CONTROLLER_SERVICE"), Set.of("CREATE_DELETE_VOLUME", "GET_CAPACITY"), Set.of("STAGE_UNSTAGE_VOLUME"), 0, true);
  static final DriverCapabilities NODE_ONLY = new DriverCapabilities("node-only.example.com", "", Set.of(), Set.of(), Set.of(), 0, false);

  private Samples() {}

  /** A scenario with this head (suite, requires, hints: YAML lines) and steps 1 apply, 2 wait-ready, 3 delete, 4 wait-gone. */
  static Scenario scenario(String name, String head) {
    return scenario(name, head, "");
  }

  /** As {@link #scenario(String, String)}, with these step lines after the fourth. */
  static Scenario scenario(String name, String head, String moreSteps) {
    String text = "name: " + name + "\ndescription: the " + name + " scenario\n" + head + """
        steps:
        - apply: |
            apiVersion: v1
            kind: Pod
            metadata: {name: a, namespace: default}
            spec:
              containers: [{name: app, image: busybox, volumeMounts: [{name: scratch, mountPath: /scratch}]}]
              volumes: [{name: scratch, csi: {driver: "{{driver}}"}}]
        - wait-ready: {pod: default/a}
        - delete: {kind: Pod, namespace: default, name: a}
        - wait-gone: {pod: default/a}
        """ + moreSteps;
    try {
      return ScenarioParser.parse(name + ".yaml", text, relative -> {
        throw new NoSuchFileException(relative);
      });
    } catch (ScenarioException e) {
      throw new AssertionError(e.getMessage(), e);
    }
  }

  static Check passed(String name) {
    return new Check(name, Check.Kind.ASSERTION, null, List.of(), 17);
  }

  static Check failed(String name, String failure) {
    return new Check(name, name.startsWith("invariant") ? Check.Kind.INVARIANT : Check.Kind.ASSERTION, failure, List.of(), 23);
  }

  static ScenarioResult result(Scenario s, long millis, String error, Check... checks) {
    return new ScenarioResult(s.name(), s.description(), 1, s.steps().size(), List.of(checks), List.of(), millis, error, Map.of());
  }

  static CheckDriver.Entry ran(Scenario s, ScenarioResult r) {
    return new CheckDriver.Entry(new ScenarioSelection.Decision(s, null), r);
  }

  static CheckDriver.Entry skipped(Scenario s, String reason) {
    return new CheckDriver.Entry(new ScenarioSelection.Decision(s, reason), null);
  }
}
