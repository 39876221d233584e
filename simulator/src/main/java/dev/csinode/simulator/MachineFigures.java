package dev.csinode.simulator;

import dev.csinode.mount.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the benchmarks read of the machine and measure as its floors, the same way in both. */
final class MachineFigures {
  private MachineFigures() {}

  /** utime + stime, in ms, of the process or thread whose {@code /proc/.../stat} this is (fields 14 and 15). */
  static long cpuMillis(Path stat) throws IOException {
    String text = Files.readString(stat);
    String[] f = text.substring(text.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10; // USER_HZ is 100 on Linux
  }

  /**
   * CPU time, in ms, of the JIT compiler threads ("C1 CompilerThre<n>", "C2 ...") of the process whose
   * {@code /proc/<pid>} this is (ThreadMXBean does not show them): on 2 cores compiling competes with the work measured.
   * A thread that ended between the listing and the reading is skipped, its CPU time with it.
   */
  static long compilerCpuMillis(Path proc) throws IOException {
    long millis = 0;
    try (var tasks = Files.list(proc.resolve("task"))) {
      for (Path task : tasks.toList()) {
        try {
          if (Files.readString(task.resolve("comm")).contains("CompilerThre")) {
            millis += cpuMillis(task.resolve("stat"));
          }
        } catch (IOException | RuntimeException gone) {
          // the thread ended meanwhile
        }
      }
    }
    return millis;
  }

  /** {@code n} bind mounts, each unmounted again, through mount-utils (the driver's own path): their durations. */
  static long[] bindMountNanos(Path dir, int n) throws IOException {
    Path src = Files.createDirectories(dir.resolve("floor-src"));
    Path dst = Files.createDirectories(dir.resolve("floor-dst"));
    Mounter m = new Mounter();
    long[] t = new long[n];
    for (int i = 0; i < n; i++) {
      long s = System.nanoTime();
      m.bind(src, dst, false, List.of());
      m.unmount(dst);
      t[i] = System.nanoTime() - s;
    }
    return t;
  }
}
