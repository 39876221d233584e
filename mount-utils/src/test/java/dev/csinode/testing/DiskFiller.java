package dev.csinode.testing;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Fills a small filesystem a test mounted (a tmpfs with size=), for the full-disk tests. */
public final class DiskFiller {
  private DiskFiller() {
  }

  /**
   * Writes one file in {@code dir} until the filesystem is full (ENOSPC); returns it: deleting it frees the space.
   * Any other write failure is thrown.
   */
  public static Path fill(Path dir) throws IOException {
    Path filler = dir.resolve("filler");
    try (OutputStream out = Files.newOutputStream(filler)) {
      byte[] block = new byte[4096];
      while (true) {
        out.write(block);
        out.flush();
      }
    } catch (IOException e) {
      if (!String.valueOf(e.getMessage()).contains("No space left")) {
        throw e;
      }
    }
    return filler;
  }
}
