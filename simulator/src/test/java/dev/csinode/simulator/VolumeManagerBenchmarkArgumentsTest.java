package dev.csinode.simulator;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * bench-agent's {@code --async-profiler LIB:ARGS} is checked when the command line is read: a value without the
 * colon failed only when the profiler was loaded, after the root filesystem, the agent and the first batch were made.
 */
@Tag("unit")
class VolumeManagerBenchmarkArgumentsTest {
  @TempDir Path dir;

  @Test
  void anAsyncProfilerValueThatIsNotLibColonArgsIsAUsageError() throws Exception {
    for (String bad : new String[] {"event=cpu,file=/tmp/x.txt", ":event=cpu", dir.resolve("missing.so") + ":event=cpu"}) {
      var e = assertThrows(CommandLine.ParameterException.class, () -> parse(bad), bad);
      assertTrue(e.getMessage().contains("--async-profiler"), e.getMessage());
      assertTrue(e.getMessage().contains("libasyncProfiler.so"), e.getMessage());
    }
    Path lib = Files.writeString(dir.resolve("libasyncProfiler.so"), "");
    VolumeManagerBenchmark b = parse(lib + ":event=alloc,collapsed,file=/tmp/%b.txt");
    assertEquals(new VolumeManagerBenchmark.AsyncProfiler(lib, "event=alloc,collapsed,file=/tmp/%b.txt"), b.asyncProfiler);
  }

  private VolumeManagerBenchmark parse(String asyncProfiler) {
    VolumeManagerBenchmark b = new VolumeManagerBenchmark();
    new CommandLine(b).parseArgs("--work-dir", dir.toString(), "--async-profiler", asyncProfiler);
    return b;
  }
}
