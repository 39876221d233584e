package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Synthetic traces for the rules' tests: calls in order of arrival with their times in microseconds, on the paths
 * the kubelet uses below {@link #ROOT}. Written from the kubelet's layout here too, not from the code under test.
 */
final class TraceBuilder {
  static final Path ROOT = Path.of("/var/lib/kubelet");
  static final String DRIVER = "memory.csinode.dev";
  private final List<CsiCall> calls = new ArrayList<>();
  private long seq;

  static String staging(String volume) {
    try {
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(volume.getBytes(StandardCharsets.UTF_8)));
      return ROOT + "/plugins/kubernetes.io/csi/" + DRIVER + "/" + hash + "/globalmount";
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static String target(String podUid, String specName) {
    return ROOT + "/pods/" + podUid + "/volumes/kubernetes.io~csi/" + specName + "/mount";
  }

  CsiCall call(String method, String volume, String staging, String target, long start, long end, String code) {
    CsiCall c = new CsiCall(++seq, method, volume, staging, target, start, end, code, code == null || code.equals("OK") ? "" : "simulated " + code,
        null, false, null);
    calls.add(c);
    return c;
  }

  CsiCall add(CsiCall c) {
    calls.add(c);
    seq = Math.max(seq, c.seq());
    return c;
  }

  CsiCall stage(String volume, long start, long end, String code) {
    return call("NodeStageVolume", volume, staging(volume), null, start, end, code);
  }

  CsiCall unstage(String volume, long start, long end, String code) {
    return call("NodeUnstageVolume", volume, staging(volume), null, start, end, code);
  }

  CsiCall publish(String volume, String pod, long start, long end, String code) {
    return call("NodePublishVolume", volume, staging(volume), target(pod, "pv-" + volume), start, end, code);
  }

  /** A publish answered OK, with what the proxy saw at the target right after. */
  CsiCall publishMounted(String volume, String pod, long start, long end, Boolean mountedAfter) {
    return add(new CsiCall(++seq, "NodePublishVolume", volume, staging(volume), target(pod, "pv-" + volume), start, end, "OK", "",
        null, false, mountedAfter));
  }

  CsiCall unpublish(String volume, String pod, long start, long end, String code) {
    return call("NodeUnpublishVolume", volume, null, target(pod, "pv-" + volume), start, end, code);
  }

  /** The simulator's repeat of a call answered OK, sent right after it. */
  CsiCall probe(CsiCall original, long start, long end, String code) {
    return add(new CsiCall(++seq, original.method(), original.volumeId(), original.stagingPath(), original.targetPath(), start, end, code,
        code == null || code.equals("OK") ? "" : "simulated " + code, null, true, null));
  }

  List<CsiCall> calls() {
    return List.copyOf(calls);
  }

  /** A full life of a volume for one pod: stage, publish, unpublish, unstage, all OK, from {@code t}. */
  TraceBuilder life(String volume, String pod, long t) {
    stage(volume, t, t + 10, "OK");
    publish(volume, pod, t + 20, t + 30, "OK");
    unpublish(volume, pod, t + 40, t + 50, "OK");
    unstage(volume, t + 60, t + 70, "OK");
    return this;
  }

  static EndState end() {
    return new EndState(ROOT, List.of(), Set.of(), List.of());
  }

  static EndState end(List<Path> mounts, Set<Path> wanted) {
    return new EndState(ROOT, mounts, wanted, List.of());
  }
}
