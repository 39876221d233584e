package dev.csinode.simulator.report;

import dev.csinode.mount.AtomicFile;
import java.io.IOException;
import java.nio.file.Path;

/** Where the reports land: each file replaced in one step, so after a crash it holds the old report or the new. */
final class ReportFiles {
  private ReportFiles() {}

  /**
   * Replaces file with content, making its directory if missing. The path is made absolute first: a bare name such as
   * {@code --junit junit.xml} has no parent, and the replacement needs the directory to rename in and sync.
   */
  static void replace(Path file, byte[] content) throws IOException {
    AtomicFile.write(file.toAbsolutePath(), content);
  }
}
