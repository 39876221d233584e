package dev.csinode.simulator.invariants;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

@Tag("unit")
class KubeletPathsTest {
  static final String ROOT = TraceBuilder.ROOT.toString();
  final KubeletPaths rule = new KubeletPaths();

  List<Violation> check(TraceBuilder t) {
    return rule.check(t.calls(), TraceBuilder.end(), true);
  }

  @Test
  void holdsForTheKubeletsFilesystemPaths() {
    assertEquals(List.of(), check(new TraceBuilder().life("v1", "0b7c6f1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b", 0)));
  }

  @Test
  void holdsForTheKubeletsBlockPaths() {
    TraceBuilder t = new TraceBuilder();
    String staging = ROOT + "/plugins/kubernetes.io/csi/volumeDevices/staging/pv-1";
    String target = ROOT + "/plugins/kubernetes.io/csi/volumeDevices/publish/pv-1/pod-uid-1";
    t.call("NodeStageVolume", "v1", staging, null, 0, 10, "OK");
    t.call("NodePublishVolume", "v1", staging, target, 20, 30, "OK");
    t.call("NodeUnpublishVolume", "v1", null, target, 40, 50, "OK");
    t.call("NodeUnstageVolume", "v1", staging, null, 60, 70, "OK");
    assertEquals(List.of(), check(t));
  }

  @Test
  void holdsForARootReachedThroughALink(@TempDir Path dir) throws Exception {
    Path real = Files.createDirectories(dir.resolve("real"));
    Path link = Files.createSymbolicLink(dir.resolve("kubelet"), real);
    TraceBuilder t = new TraceBuilder();
    t.call("NodePublishVolume", "v1", null, real + "/pods/uid-1/volumes/kubernetes.io~csi/pv-1/mount", 0, 10, "OK");
    assertEquals(List.of(), rule.check(t.calls(), new EndState(link, List.of(), Set.of(), List.of()), false));
  }

  @Test
  void aStagingPathWithAnotherVolumesHashIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodeStageVolume", "v1", TraceBuilder.staging("v2"), null, 0, 10, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertEquals("kubelet-paths", v.get(0).rule());
    assertTrue(v.get(0).message().contains("SHA-256 of the volume handle"), v.get(0).message());
  }

  @Test
  void theOldPerPvStagingPathIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodeStageVolume", "v1", ROOT + "/plugins/kubernetes.io/csi/pv/pv-1/globalmount", null, 0, 10, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void aPathOutsideTheRootIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodeUnpublishVolume", "v1", null, "/tmp/pods/uid-1/volumes/kubernetes.io~csi/pv-1/mount", 0, 10, "OK");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("not below the root"), v.get(0).message());
  }

  @Test
  void aTargetNotNamedMountIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodePublishVolume", "v1", null, ROOT + "/pods/uid-1/volumes/kubernetes.io~csi/pv-1/data", 0, 10, "OK");
    assertEquals(1, rule.check(t.calls(), TraceBuilder.end(), false).size());
  }

  @Test
  void dotDotInAPathIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodePublishVolume", "v1", null, ROOT + "/pods/../volumes/kubernetes.io~csi/pv-1/mount", 0, 10, "OK");
    assertEquals(1, check(t).size());
  }

  @Test
  void aStageWithoutStagingPathIsAViolation() {
    TraceBuilder t = new TraceBuilder();
    t.call("NodeStageVolume", "v1", "", null, 0, 10, "INVALID_ARGUMENT");
    List<Violation> v = check(t);
    assertEquals(1, v.size(), v.toString());
    assertTrue(v.get(0).message().contains("staging_target_path is missing"), v.get(0).message());
  }
}
