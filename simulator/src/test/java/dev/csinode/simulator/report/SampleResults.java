package dev.csinode.simulator.report;

import dev.csinode.simulator.invariants.Violation;
import dev.csinode.simulator.report.Check.Kind;
import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Scenario results built by hand, as the engine would hand them to the reports. */
final class SampleResults {
  static final String STAGING = "/var/lib/kubelet/plugins/kubernetes.io/csi/hostpath.csi.k8s.io/abc/globalmount";
  static final String TARGET = "/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/pv-a/mount";
  /** What a hostile driver may answer: a line break, a terminal escape, a bidi override and markup. */
  static final String HOSTILE = "stage failed\nINFO fake log line \u001b[2J\u202e<script>alert(1)</script>";

  private SampleResults() {}

  static CsiCall call(long seq, String method, String volume, long startMicros, long endMicros, String code) {
    return new CsiCall(seq, method, volume, null, null, startMicros, endMicros, code, "", null, false, null);
  }

  /** Passes: 3 checks, 6 calls, 2 figures. */
  static ScenarioResult passing() {
    List<CsiCall> trace = List.of(
        call(1, "NodeGetCapabilities", null, 0, 150, "OK"),
        new CsiCall(2, "NodeStageVolume", "vol-a", STAGING, null, 1_000, 3_000, "OK", "", null, false, true),
        new CsiCall(3, "NodeStageVolume", "vol-a", STAGING, null, 3_100, 3_400, "OK", "", null, true, true),
        new CsiCall(4, "NodePublishVolume", "vol-a", STAGING, TARGET, 3_500, 5_000, "OK", "", null, false, true),
        new CsiCall(5, "NodeUnpublishVolume", "vol-a", null, TARGET, 8_000, 8_500, "OK", "", null, false, null),
        new CsiCall(6, "NodeUnstageVolume", "vol-a", STAGING, null, 8_600, 9_000, "OK", "", null, false, null));
    Map<String, String> figures = new LinkedHashMap<>();
    figures.put("pods ready per second", "412.5");
    figures.put("ready latency p99", "120 ms");
    return new ScenarioResult("basic-lifecycle", "stage, publish, unpublish, unstage", 42, 5, List.of(
        new Check("step 3 assert pod default/a Ready", Kind.ASSERTION, null, List.of(), 12),
        new Check("invariant stage-before-publish", Kind.INVARIANT, null, List.of(), 1),
        new Check("invariant idempotent-stage", Kind.INVARIANT, null, List.of(), 1)),
        trace, 1_234, null, figures);
  }

  /**
   * Fails: an assertion with a hostile reason, an invariant with two violations (the first with the calls around
   * it, one of them faulted and one still in flight), a check that holds; 5 calls on 2 volumes and none without.
   */
  static ScenarioResult failing() {
    CsiCall stage = new CsiCall(1, "NodeStageVolume", "vol-b", STAGING, null, 500, 1_500, "INTERNAL", HOSTILE,
        "stage-fails", false, null);
    CsiCall publish = new CsiCall(2, "NodePublishVolume", "vol-b", STAGING, TARGET, 1_600, 2_000, "OK", "", null,
        false, false);
    CsiCall hung = new CsiCall(3, "NodePublishVolume", "vol-b", STAGING, TARGET, 1_800, -1, null, "", "hang", false,
        null);
    CsiCall other = call(4, "NodeStageVolume", "vol-c", 2_500, 10_000, "OK");
    CsiCall probe = new CsiCall(5, "NodeStageVolume", "vol-c", STAGING, null, 10_100, 10_300, "ALREADY_EXISTS",
        "staged with other options", null, true, null);
    List<Violation> violations = List.of(
        new Violation("stage-before-publish", "vol-b", "NodePublishVolume without a successful NodeStageVolume",
            List.of(stage, publish, hung)),
        new Violation("stage-before-publish", "vol-c", "second breach", List.of()));
    return new ScenarioResult("broken-stage", null, 7, 9, List.of(
        new Check("step 4 assert pod default/b Ready", Kind.ASSERTION, "pod default/b is Pending: " + HOSTILE,
            List.of(), 30_000),
        new Check("invariant stage-before-publish", Kind.INVARIANT, null, violations, 2),
        new Check("invariant one-operation-per-volume", Kind.INVARIANT, null, List.of(), 1)),
        List.of(stage, publish, hung, other, probe), 31_500, null, Map.of());
  }

  /** Could not go on: a scenario error, no checks, no trace. */
  static ScenarioResult errored() {
    return new ScenarioResult("driver-never-up", null, 1, 2, List.of(), List.of(), 5_000,
        "driver at unix:///tmp/x.sock did not answer Probe within 5 s: " + HOSTILE, Map.of());
  }

  /** A churn-sized trace: calls over {@code volumes} volumes, 6 per volume, in seconds of simulated time. */
  static ScenarioResult large(int volumes) {
    List<CsiCall> trace = new ArrayList<>(volumes * 6);
    String[] methods = {"NodeStageVolume", "NodeStageVolume", "NodePublishVolume", "NodeGetVolumeStats",
        "NodeUnpublishVolume", "NodeUnstageVolume"};
    long seq = 0;
    for (int v = 0; v < volumes; v++) {
      long t = v * 2_000L;
      for (int m = 0; m < methods.length; m++) {
        long start = t + m * 1_500L;
        trace.add(new CsiCall(++seq, methods[m], "pvc-" + v, STAGING + v, m >= 2 ? TARGET + v : null, start,
            start + 1_000, m == 3 && v % 100 == 0 ? "INTERNAL" : "OK", "", null, m == 1, null));
      }
    }
    return new ScenarioResult("churn-" + volumes, null, 3, 4, List.of(), trace, volumes * 2L + 10, null, Map.of());
  }
}
