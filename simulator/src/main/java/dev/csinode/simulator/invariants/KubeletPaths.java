package dev.csinode.simulator.invariants;

import dev.csinode.simulator.trace.CsiCall;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;

/**
 * The paths the node hands the driver are the kubelet's (v1.24+), below the root it runs on: staging paths
 * {@code <root>/plugins/kubernetes.io/csi/<driver>/<sha256 of the volume handle>/globalmount} (block:
 * {@code <root>/plugins/kubernetes.io/csi/volumeDevices/staging/<spec name>}), target paths
 * {@code <root>/pods/<pod uid>/volumes/kubernetes.io~csi/<spec name>/mount} (block:
 * {@code <root>/plugins/kubernetes.io/csi/volumeDevices/publish/<spec name>/<pod uid>}). Drivers and tools find
 * volumes there; a path elsewhere breaks them. Judged on stage, unstage, publish and unpublish; the volume_path of
 * stats and expansion calls is not in the trace's path fields.
 */
public final class KubeletPaths implements Invariant {
  public static final String NAME = "kubelet-paths";
  private static final Set<String> METHODS = Set.of(Calls.STAGE, Calls.UNSTAGE, Calls.PUBLISH, Calls.UNPUBLISH);

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public String description() {
    return "staging paths are <root>/plugins/kubernetes.io/csi/<driver>/<sha256(volume handle)>/globalmount (block: "
        + "<root>/plugins/kubernetes.io/csi/volumeDevices/staging/<spec>), target paths <root>/pods/<uid>/volumes/"
        + "kubernetes.io~csi/<spec>/mount (block: <root>/plugins/kubernetes.io/csi/volumeDevices/publish/<spec>/<uid>) (kubelet layout)";
  }

  @Override
  public String hint() {
    return "kubelet: staging_target_path and target_path follow its on-disk layout; the driver must mount at the paths it is given and never derive paths of its own";
  }

  @Override
  public List<Violation> check(List<CsiCall> trace, EndState end, boolean stageUnstage) {
    Set<Path> roots = roots(end.rootDir());
    List<Violation> out = new ArrayList<>();
    for (CsiCall c : Calls.node(trace)) {
      if (!METHODS.contains(c.method())) {
        continue;
      }
      List<String> problems = new ArrayList<>();
      boolean needsStaging = c.method().equals(Calls.STAGE) || c.method().equals(Calls.UNSTAGE);
      if (needsStaging || Calls.blankToNull(c.stagingPath()) != null) {
        String p = stagingProblem(c.stagingPath(), c.volumeId(), roots);
        if (p != null) {
          problems.add("staging_target_path " + p);
        }
      }
      if (c.method().equals(Calls.PUBLISH) || c.method().equals(Calls.UNPUBLISH)) {
        String p = targetProblem(c.targetPath(), roots);
        if (p != null) {
          problems.add("target_path " + p);
        }
      }
      if (!problems.isEmpty()) {
        out.add(new Violation(NAME, c.volumeId(), Calls.describe(c) + " of volume " + c.volumeId() + ": " + String.join("; ", problems),
            Calls.around(trace, c)));
      }
    }
    return out;
  }

  /** The root as given and as resolved: the node may run on either spelling of a root reached through a link. */
  private static Set<Path> roots(Path root) {
    Set<Path> roots = new LinkedHashSet<>();
    Path abs = root.toAbsolutePath().normalize();
    roots.add(abs);
    try {
      if (Files.exists(abs)) {
        roots.add(abs.toRealPath());
      }
    } catch (IOException e) {
      // the given spelling alone, then
    }
    return roots;
  }

  private static String stagingProblem(String path, String volumeId, Set<Path> roots) {
    if (Calls.blankToNull(path) == null) {
      return "is missing";
    }
    String rel = below(path, roots);
    if (rel == null) {
      return path + " is not below the root " + roots.iterator().next();
    }
    Matcher fs = KubeletPathPatterns.FS_STAGING.matcher(rel);
    if (fs.matches() && KubeletPathPatterns.goodSegments(fs)) {
      if (!KubeletPathPatterns.DRIVER.matcher(fs.group(1)).matches()) {
        return path + " names '" + fs.group(1) + "' where the driver's name belongs";
      }
      String expected = KubeletPathPatterns.sha256(volumeId == null ? "" : volumeId);
      return fs.group(2).equals(expected) ? null
          : path + " has " + fs.group(2) + " where the SHA-256 of the volume handle belongs (" + expected + ")";
    }
    Matcher block = KubeletPathPatterns.BLOCK_STAGING.matcher(rel);
    if (block.matches() && KubeletPathPatterns.goodSegments(block)) {
      return null;
    }
    return path + " is not <root>/plugins/kubernetes.io/csi/<driver>/<sha256 of the volume handle>/globalmount nor "
        + "<root>/plugins/kubernetes.io/csi/volumeDevices/staging/<spec name>";
  }

  private static String targetProblem(String path, Set<Path> roots) {
    if (Calls.blankToNull(path) == null) {
      return "is missing";
    }
    String rel = below(path, roots);
    if (rel == null) {
      return path + " is not below the root " + roots.iterator().next();
    }
    Matcher fs = KubeletPathPatterns.FS_TARGET.matcher(rel);
    Matcher block = KubeletPathPatterns.BLOCK_TARGET.matcher(rel);
    if (fs.matches() && KubeletPathPatterns.goodSegments(fs) || block.matches() && KubeletPathPatterns.goodSegments(block)) {
      return null;
    }
    return path + " is not <root>/pods/<pod uid>/volumes/kubernetes.io~csi/<spec name>/mount nor "
        + "<root>/plugins/kubernetes.io/csi/volumeDevices/publish/<spec name>/<pod uid>";
  }

  private static String below(String path, Set<Path> roots) {
    for (Path root : roots) {
      String rel = KubeletPathPatterns.relative(path, root);
      if (rel != null) {
        return rel;
      }
    }
    return null;
  }
}
