package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/** What the rules share about calls: which are the node's, how they ended, which overlap, the calls around one. */
final class Calls {
  static final String STAGE = "NodeStageVolume";
  static final String UNSTAGE = "NodeUnstageVolume";
  static final String PUBLISH = "NodePublishVolume";
  static final String UNPUBLISH = "NodeUnpublishVolume";
  static final String EXPAND = "NodeExpandVolume";
  /**
   * The codes after which the kubelet does not know whether a stage or publish happened (its isFinalError says
   * "not final"): the volume may be mounted, so it is tracked as uncertain and torn down later.
   */
  private static final Set<String> NOT_FINAL = Set.of("CANCELLED", "DEADLINE_EXCEEDED", "UNAVAILABLE", "RESOURCE_EXHAUSTED",
      "ABORTED");
  /** How many calls of the volume a violation shows on each side of the one it is about. */
  private static final int AROUND = 3;

  private Calls() {}

  /** The node's own calls: without the simulator's repeats. */
  static List<CsiCall> node(List<CsiCall> trace) {
    return trace.stream().filter(c -> !c.probe()).toList();
  }

  /** Calls with a volume id, grouped by it, each group in order of arrival. */
  static Map<String, List<CsiCall>> byVolume(List<CsiCall> calls, Set<String> methods) {
    Map<String, List<CsiCall>> out = new LinkedHashMap<>();
    for (CsiCall c : calls) {
      if (c.volumeId() != null && methods.contains(c.method())) {
        out.computeIfAbsent(c.volumeId(), k -> new ArrayList<>()).add(c);
      }
    }
    return out;
  }

  /** Ended in a way after which the driver may have done it: OK, a non-final code, or no answer at all. */
  static boolean mayHaveActed(CsiCall c) {
    return c.ok() || uncertain(c);
  }

  static boolean uncertain(CsiCall c) {
    return c.inFlight() || c.code() == null || NOT_FINAL.contains(c.code());
  }

  /** When the node had its answer; a call still in flight never ends. */
  static long end(CsiCall c) {
    return c.inFlight() ? Long.MAX_VALUE : c.endMicros();
  }

  static boolean overlap(CsiCall a, CsiCall b) {
    return a.startMicros() < end(b) && b.startMicros() < end(a);
  }

  static boolean samePath(String a, String b) {
    return Objects.equals(blankToNull(a), blankToNull(b));
  }

  static String blankToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  /** e.g. {@code NodePublishVolume #12 (OK)}. */
  static String describe(CsiCall c) {
    return c.method() + " #" + c.seq() + " (" + outcome(c) + ")";
  }

  static String outcome(CsiCall c) {
    if (c.inFlight() || c.code() == null) {
      return "no answer";
    }
    String fault = c.fault() == null ? "" : ", fault " + c.fault();
    return c.ok() || c.message() == null || c.message().isEmpty() ? c.code() + fault : c.code() + ": " + c.message() + fault;
  }

  /** The calls on the call's volume just before and after it (the simulator's repeats included), in order. */
  static List<CsiCall> around(List<CsiCall> trace, CsiCall call) {
    if (call.volumeId() == null) {
      return List.of(call);
    }
    List<CsiCall> same = trace.stream().filter(c -> call.volumeId().equals(c.volumeId())).toList();
    int i = same.indexOf(call);
    if (i < 0) {
      return List.of(call);
    }
    return same.subList(Math.max(0, i - AROUND), Math.min(same.size(), i + AROUND + 1));
  }

  /** The calls on a volume near the end of the trace, for a violation about how the volume was left. */
  static List<CsiCall> last(List<CsiCall> trace, String volumeId) {
    if (volumeId == null) {
      return List.of();
    }
    List<CsiCall> same = trace.stream().filter(c -> volumeId.equals(c.volumeId())).toList();
    return same.subList(Math.max(0, same.size() - 2 * AROUND), same.size());
  }

  /** Milliseconds since the trace began, for messages. */
  static String at(long micros) {
    return micros == Long.MAX_VALUE ? "never" : String.format("%.3f ms", micros / 1000.0);
  }
}
