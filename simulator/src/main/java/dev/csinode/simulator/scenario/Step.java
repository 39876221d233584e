package dev.csinode.simulator.scenario;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One step of a scenario's timeline, as the YAML names it: a single-key map whose key is the kind
 * ({@code wait-ready}, {@code apply}, ...) and whose value the step's arguments. Bound by Jackson; checked by
 * {@link ScenarioParser} after binding (required keys, pod references, placeholders).
 */
public sealed interface Step {

  /** The kind as written in a scenario, e.g. {@code wait-ready}. */
  String kind();

  /** Objects applied through the agent's API; {@code text} inline, or read from {@code file} at parse time. */
  record Apply(String text, String file) implements Step {
    public String kind() {
      return "apply";
    }
  }

  /** The value of {@code apply: {file: ...}}. */
  record ApplyFile(String file) {}

  record Delete(String kind, String namespace, String name) implements Step {
    public String kind() {
      return "delete";
    }

    /** The object's kind, Pod when the scenario does not say. */
    public String objectKind() {
      return kind == null ? "Pod" : kind;
    }
  }

  record WaitReady(String pod, Duration timeout) implements Step {
    public String kind() {
      return "wait-ready";
    }
  }

  record WaitGone(String pod, Duration timeout) implements Step {
    public String kind() {
      return "wait-gone";
    }
  }

  record WriteData(String pod, String volume, String file, String size) implements Step {
    public String kind() {
      return "write-data";
    }
  }

  record VerifyData(String pod, String volume, String file) implements Step {
    public String kind() {
      return "verify-data";
    }
  }

  /**
   * A pod's published volume as the pod sees it. {@code readOnly} true: the target is mounted read-only and a new
   * file cannot be made there (EROFS); false: a file can be made (and is removed again). {@code group}: the
   * volume's root and everything beneath it have that group id (a pod's fsGroup), and the root is group-writable.
   * Either or both. Real mounts only.
   */
  record AssertVolume(String pod, String volume, Boolean readOnly, Long group) implements Step {
    public String kind() {
      return "assert-volume";
    }
  }

  /**
   * The node's calls of these methods that were answered OK (probes excluded), on {@code volume} when given, in the
   * order they reached the driver, are exactly {@code methods}: e.g. ControllerPublishVolume before NodeStageVolume,
   * ControllerUnpublishVolume after NodeUnstageVolume.
   */
  record AssertOrder(List<String> methods, String volume) implements Step {
    public AssertOrder {
      methods = methods == null ? List.of() : List.copyOf(methods);
    }

    public String kind() {
      return "assert-order";
    }
  }

  /**
   * Waits until the pod's status (its errors, what it waits for, its volumes' states and last errors) mentions
   * {@code text}: why a pod is not ready, as a runtime would show it.
   */
  record WaitReason(String pod, String text, Duration timeout) implements Step {
    public String kind() {
      return "wait-reason";
    }
  }

  /**
   * Waits until the agent's provisioner has a PersistentVolume Bound to {@code claim} ({@code state: bound}), or
   * none left for it at all ({@code state: deleted}: DeleteVolume answered and its record removed).
   */
  record WaitProvisioned(String claim, String state, Duration timeout) implements Step {
    public String kind() {
      return "wait-provisioned";
    }
  }

  /**
   * The agent restarts (or crashes and restarts); {@code forget}: pods ({@code namespace/name}) deleted while it was
   * down, so that the new agent finds their directories with nobody wanting them.
   */
  record RestartAgent(boolean crash, List<String> forget) implements Step {
    public RestartAgent {
      forget = forget == null ? List.of() : List.copyOf(forget);
    }

    public RestartAgent(boolean crash) {
      this(crash, List.of());
    }

    public String kind() {
      return "restart-agent";
    }
  }

  record RestartDriver() implements Step {
    public String kind() {
      return "restart-driver";
    }
  }

  /**
   * The driver's pod goes (its registrar stops serving, the node deregisters it, the driver is killed), and stays
   * away until {@code start-driver}; only a driver the simulator started.
   */
  record StopDriver() implements Step {
    public String kind() {
      return "stop-driver";
    }
  }

  /** The driver stopped by {@code stop-driver} starts and registers again; the step ends once the node accepted it. */
  record StartDriver() implements Step {
    public String kind() {
      return "start-driver";
    }
  }

  record Reboot() implements Step {
    public String kind() {
      return "reboot";
    }
  }

  record Faults(List<String> on, List<String> off) implements Step {
    public Faults {
      on = on == null ? List.of() : List.copyOf(on);
      off = off == null ? List.of() : List.copyOf(off);
    }

    public String kind() {
      return "faults";
    }
  }

  /** A batch: {@code count} copies of the template applied at once, then every pod waited for. */
  record Pods(String template, Integer count, Duration timeout) implements Step {
    public String kind() {
      return "pods";
    }
  }

  /**
   * Pods created at {@code rate} per second for {@code seconds}; each deleted once ready and {@code lifetime} old;
   * {@code timeout}: how long one pod may take to get ready or to go.
   */
  record Churn(String template, Double rate, Double seconds, Duration lifetime, Duration timeout) implements Step {
    public String kind() {
      return "churn";
    }
  }

  /**
   * Exactly one of pod (with ready, and optionally a text its status message must contain), volumes, metric and
   * calls.
   */
  record Assert(String pod, Boolean ready, String message, VolumeCounts volumes, MetricAssert metric, CallsAssert calls)
      implements Step {
    public Assert(String pod, Boolean ready, VolumeCounts volumes, MetricAssert metric, CallsAssert calls) {
      this(pod, ready, null, volumes, metric, calls);
    }

    public String kind() {
      return "assert";
    }
  }

  /** Volumes on the node: staged (device set up), published (pod mounts); null: not checked. */
  record VolumeCounts(Integer staged, Integer published) {}

  /** The sum of the samples of metric {@code name} whose labels include {@code labels}. */
  record MetricAssert(String name, Map<String, String> labels, Double min, Double max, Double equals) {
    public MetricAssert {
      labels = labels == null ? Map.of() : Map.copyOf(labels);
    }
  }

  /** The node's CSI calls (probes excluded) of {@code method}, ending with {@code code} and on {@code volume} when given. */
  record CallsAssert(String method, String code, String volume, Integer count, Integer min, Integer max) {}

  /**
   * Waits until the node has made at least {@code min} (default 1) calls of {@code method} that ended with
   * {@code code} (any, when not given), on {@code volume} when given; with {@code inFlight: true}, until such a call
   * has reached the proxy and not yet been answered. The event a failure scenario acts on ("the stage timed out,
   * now delete the pod") without sleeping.
   */
  record WaitCalls(String method, String code, String volume, Integer min, Boolean inFlight, Duration timeout) implements Step {
    public String kind() {
      return "wait-calls";
    }
  }

  /**
   * Litter in {@code plugins_registry} as a crash or reboot leaves it: {@code sockets} are socket files nobody serves
   * (bound, then the listener gone), {@code files} regular files; names only, no '/'.
   */
  record StaleRegistration(List<String> sockets, List<String> files) implements Step {
    public StaleRegistration {
      sockets = sockets == null ? List.of() : List.copyOf(sockets);
      files = files == null ? List.of() : List.copyOf(files);
    }

    public String kind() {
      return "stale-registration";
    }
  }

  /** Removes the pod volume's {@code vol_data.json} under the pod's directory, as k/k#101911 saw it vanish. */
  record RemoveVolData(String pod, String volume) implements Step {
    public String kind() {
      return "remove-vol-data";
    }
  }

  record Pause(Duration duration) implements Step {
    public String kind() {
      return "pause";
    }
  }
}
