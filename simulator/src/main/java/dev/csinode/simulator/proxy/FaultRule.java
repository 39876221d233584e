package dev.csinode.simulator.proxy;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.csinode.util.GoDuration;
import io.vertx.grpc.common.GrpcStatus;
import java.time.Duration;
import java.util.Arrays;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * One fault rule, as written in a rules file or a scenario (the same keys): which calls it applies to (a CSI method
 * or {@code *}, optionally a volume id glob, the n-th matching call, a probability, at most so many times) and what
 * it does. Values are checked here, so a file with a bad one is refused with the rule and field named.
 *
 * @param name        unique within its list; named in logs, the trace and by the scenario steps that switch it
 * @param method      a CSI method's short name ({@code NodeStageVolume}) or {@code *} for every call
 * @param volume      a glob over the request's volume_id ({@code *} any characters, {@code ?} one); null: any call
 * @param nth         only the n-th call that matches method and volume (from 1); null: every one
 * @param probability applies with this probability (0..1) to a call that matches otherwise; null: always
 * @param times       applies at most this many times, then is spent; null: no limit
 * @param action      what it does
 * @param delay       Go duration: how long {@code delay} waits before forwarding; for the other actions, an
 *                    optional wait before they act
 * @param code        for {@code fail}: the gRPC status name to answer with (not OK)
 * @param message     for {@code fail}: the status message; null: empty
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FaultRule(String name, String method, String volume, Integer nth, Double probability, Integer times,
                        FaultAction action, String delay, String code, String message) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  public FaultRule {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a rule needs a name (letters, digits, '.', '_', '-')");
    }
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("name: '" + name + "' is not a rule name; use up to 63 letters, digits, '.', '_', '-'");
    }
    String rule = "rule " + name + ": ";
    if (method == null) {
      throw new IllegalArgumentException(rule + "method is required: a CSI method such as NodeStageVolume, or *");
    }
    if (!method.equals("*") && !CsiMethods.isMethod(method)) {
      throw new IllegalArgumentException(rule + "method: '" + method + "' is not a CSI method; use * or one of "
          + String.join(", ", CsiMethods.shortNames()));
    }
    if (volume != null && volume.isEmpty()) {
      throw new IllegalArgumentException(rule + "volume: an empty pattern matches no volume; leave it out to match any");
    }
    if (nth != null && nth < 1) {
      throw new IllegalArgumentException(rule + "nth: " + nth + " is not a call number; calls count from 1");
    }
    if (probability != null && !(probability >= 0 && probability <= 1)) {
      throw new IllegalArgumentException(rule + "probability: " + probability + " is not between 0 and 1");
    }
    if (times != null && times < 1) {
      throw new IllegalArgumentException(rule + "times: " + times + " must be at least 1 (leave it out for no limit)");
    }
    if (action == null) {
      throw new IllegalArgumentException(rule + "action is required: one of " + FaultAction.names());
    }
    if (delay != null) {
      try {
        GoDuration.parse(delay);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(rule + "delay: " + e.getMessage());
      }
    } else if (action == FaultAction.DELAY) {
      throw new IllegalArgumentException(rule + "delay is required for action delay, e.g. delay: 2s");
    }
    if (action == FaultAction.FAIL) {
      if (code == null) {
        throw new IllegalArgumentException(rule + "code is required for action fail, e.g. code: UNAVAILABLE");
      }
      GrpcStatus status = statusNamed(code);
      if (status == null || status == GrpcStatus.OK) {
        throw new IllegalArgumentException(rule + "code: '" + code + "' is not a gRPC error status; use one of "
            + Arrays.stream(GrpcStatus.values()).filter(s -> s != GrpcStatus.OK).map(Enum::name).collect(Collectors.joining(", ")));
      }
    } else if (code != null || message != null) {
      throw new IllegalArgumentException(rule + (code != null ? "code" : "message") + " is only for action fail, not " + action);
    }
  }

  /** The wait before the action; zero without one. */
  public Duration delayDuration() {
    return delay == null ? Duration.ZERO : GoDuration.parse(delay);
  }

  /** For {@code fail}: the status to answer with; else null. */
  public GrpcStatus status() {
    return code == null ? null : statusNamed(code);
  }

  /** Whether the rule is about this call at all (method and volume), before nth, probability and times. */
  boolean concerns(CsiMethods.Call call) {
    if (!method.equals("*") && !(call.csi() && method.equals(call.method()))) {
      return false;
    }
    return volume == null || (call.volumeId() != null && glob(volume).matcher(call.volumeId()).matches());
  }

  /** {@code *} any run of characters, {@code ?} one; everything else literal (volume ids may hold '/' and '.'). */
  static Pattern glob(String glob) {
    StringBuilder re = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (char c : glob.toCharArray()) {
      if (c == '*' || c == '?') {
        if (literal.length() > 0) {
          re.append(Pattern.quote(literal.toString()));
          literal.setLength(0);
        }
        re.append(c == '*' ? ".*" : ".");
      } else {
        literal.append(c);
      }
    }
    if (literal.length() > 0) {
      re.append(Pattern.quote(literal.toString()));
    }
    return Pattern.compile(re.toString(), Pattern.DOTALL);
  }

  private static GrpcStatus statusNamed(String code) {
    for (GrpcStatus s : GrpcStatus.values()) {
      if (s.name().equals(code)) {
        return s;
      }
    }
    return null;
  }
}
