package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * At the end of a scenario nothing is staged, published or mounted that no pod still wants: every mount beneath the
 * root is one of the wanted staging or target paths, and so is every path the trace leaves staged or published, or
 * possibly so: of the calls on the path that may have acted (OK, or uncertain: a non-final code or no answer), the
 * last is not an unstage or unpublish answered OK. The kubelet tears down what is uncertain as well as what is
 * known; a leftover is a leaked mount on a real node: space, a device and an attachment held by nobody.
 */
public final class NothingLeftUnwanted implements Invariant {
  public static final String NAME = "nothing-left-unwanted";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "at the end, every mount beneath the root and every path the trace leaves staged or published (or uncertain: "
        + "a timeout, no answer) is wanted by a pod still in the sources";
  }

  @Override
  public String hint() {
    return "kubelet: once NodeUnpublishVolume/NodeUnstageVolume answered OK nothing may stay mounted at target_path/staging_target_path; unmount before answering OK, and answer OK for a path already unmounted";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    Set<Path> wanted = new HashSet<>();
    end.wanted().forEach(p -> wanted.add(p.toAbsolutePath().normalize()));
    List<Violation> out = new ArrayList<>();
    Set<Path> reported = new HashSet<>();
    for (CsiCall c : lastActingByPath(Calls.node(trace)).values()) {
      boolean staging = c.method().equals(Calls.STAGE) || c.method().equals(Calls.UNSTAGE);
      boolean undo = c.method().equals(Calls.UNSTAGE) || c.method().equals(Calls.UNPUBLISH);
      if (undo && c.ok()) {
        continue;
      }
      Path path = Path.of(staging ? c.stagingPath() : c.targetPath()).toAbsolutePath().normalize();
      if (!wanted.contains(path)) {
        reported.add(path);
        boolean mounted = end.mounts().stream().anyMatch(m -> m.toAbsolutePath().normalize().equals(path));
        String state = staging ? "staged" : "published";
        String undoName = staging ? Calls.UNSTAGE : Calls.UNPUBLISH;
        String what = c.ok() ? "is still " + state + " at " + path + " (" + Calls.describe(c) + ", no " + undoName + " of it answered OK since"
            : "may still be " + state + " at " + path + " (the last call on it that may have acted, " + Calls.describe(c)
            + ", left it uncertain, and no " + undoName + " answered OK after it";
        out.add(new Violation(NAME, c.volumeId(), "at the end volume " + c.volumeId() + " " + what + (mounted ? "; still mounted" : "")
            + ") but no pod wants it", Calls.last(trace, c.volumeId())));
      }
    }
    for (Path m : end.mounts()) {
      Path mount = m.toAbsolutePath().normalize();
      if (!wanted.contains(mount) && reported.add(mount)) {
        CsiCall named = lastNaming(trace, mount);
        String volume = named == null ? null : named.volumeId();
        out.add(new Violation(NAME, volume, "at the end " + mount + " is still mounted"
            + (named == null ? "" : " (volume " + volume + ", last named by " + Calls.describe(named) + ")") + " but no pod wants it",
            Calls.last(trace, volume)));
      }
    }
    return out;
  }

  /**
   * Per staging or target path, of the calls on it that may have acted (answered OK, or uncertain: a non-final code or
   * no answer), the one that ended last (one still in flight ends never). A final error did nothing and is left out.
   */
  private static Map<Path, CsiCall> lastActingByPath(List<CsiCall> calls) {
    Map<Path, CsiCall> last = new LinkedHashMap<>();
    for (CsiCall c : calls) {
      if (!Calls.mayHaveActed(c)) {
        continue;
      }
      String p = switch (c.method()) {
        case Calls.STAGE, Calls.UNSTAGE -> c.stagingPath();
        case Calls.PUBLISH, Calls.UNPUBLISH -> c.targetPath();
        default -> null;
      };
      if (Calls.blankToNull(p) == null) {
        continue;
      }
      last.merge(Path.of(p).toAbsolutePath().normalize(), c, (a, b) -> Calls.end(b) >= Calls.end(a) ? b : a);
    }
    return last;
  }

  private static CsiCall lastNaming(List<CsiCall> trace, Path path) {
    CsiCall found = null;
    for (CsiCall c : trace) {
      if (names(c.stagingPath(), path) || names(c.targetPath(), path)) {
        found = c;
      }
    }
    return found;
  }

  private static boolean names(String p, Path path) {
    return Calls.blankToNull(p) != null && Path.of(p).toAbsolutePath().normalize().equals(path);
  }
}
