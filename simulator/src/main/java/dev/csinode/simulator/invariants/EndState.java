package dev.csinode.simulator.invariants;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The node at the end of a scenario, for the end-of-scenario rules.
 *
 * @param rootDir     the kubelet root the agent ran on
 * @param mounts      every mount point beneath the root (the host's table, or the simulated one)
 * @param wanted      the staging and target paths of the volumes the pods still in the sources want
 * @param dataChecks  every check of data written by the scenario
 */
public record EndState(Path rootDir, List<Path> mounts, Set<Path> wanted, List<DataCheck> dataChecks) {

  /**
   * Data the scenario wrote through a pod's volume and read back later.
   *
   * @param step     the scenario step that read it back (e.g. "step 7 verify-data")
   * @param expected sha-256 written, hex
   * @param actual   sha-256 read back, hex, or null when the file was missing
   */
  public record DataCheck(String pod, String volume, String file, String step, String expected, String actual) {
    public boolean intact() {
      return expected.equals(actual);
    }
  }
}
