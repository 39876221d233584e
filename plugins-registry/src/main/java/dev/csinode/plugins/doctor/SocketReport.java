package dev.csinode.plugins.doctor;

import java.nio.file.Path;
import java.util.List;

/**
 * What the doctor found about one registration socket.
 *
 * @param driverName the CSI driver name its GetInfo announced, or null when it did not answer or is not a CSI plugin
 */
public record SocketReport(Path socket, String driverName, List<Finding> findings) {
  public SocketReport {
    findings = List.copyOf(findings);
  }

  public boolean healthy() {
    return findings.stream().noneMatch(Finding::isProblem);
  }
}
