package dev.csinode.mount;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs the few host tools that have no system call equivalent worth rewriting (losetup, mkfs, resize2fs, tar). */
public final class Commands {
  private Commands() {}

  public record Result(int exitCode, String stdout, String stderr) {}

  public static Result run(List<String> argv, long timeoutSeconds) {
    try {
      Process p = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
      // Drain both pipes concurrently; a chatty tool would otherwise block on a full pipe.
      var err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      String out = readAll(p.getInputStream());
      if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new MountException(String.join(" ", argv) + " did not finish within " + timeoutSeconds + " s");
      }
      return new Result(p.exitValue(), out, err.join());
    } catch (IOException e) {
      throw new MountException("cannot run " + argv.get(0) + ": " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new MountException(argv.get(0) + " interrupted");
    }
  }

  /** Runs the command and returns stdout, or throws with its stderr when it fails. */
  public static String check(List<String> argv, long timeoutSeconds) {
    Result r = run(argv, timeoutSeconds);
    if (r.exitCode() != 0) {
      throw new MountException(String.join(" ", argv) + " failed (exit " + r.exitCode() + "): " + r.stderr().trim());
    }
    return r.stdout();
  }

  private static String readAll(InputStream in) {
    try (in) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
