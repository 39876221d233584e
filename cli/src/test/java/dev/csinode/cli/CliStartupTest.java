package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI's short commands do not start what only the daemon needs: picocli makes every command's object for any
 * command line, so a static logger in one (logback's ~500 classes) or a Vert.x instance would cost every
 * {@code --help} and {@code status}. Judged by the classes the JVM loads, not by time.
 */
class CliStartupTest {
  @TempDir Path dir;

  @Test
  void helpStartsNeitherLogbackNorNettyNorVertx() throws Exception {
    for (List<String> args : List.of(List.of("--help"), List.of("run", "--help"), List.of("config", "check", "--help"))) {
      Path classes = dir.resolve("classes-" + String.join("-", args).replace("--", "") + ".txt");
      List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
          "-Xlog:class+load:file=" + classes, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
      cmd.addAll(args);
      Process run = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      assertTrue(run.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, run.exitValue(), String.join(" ", args));
      List<String> loaded = Files.readAllLines(classes).stream()
          // Vert.x interfaces (Future) may load for the verifier; an instance (VertxImpl, Netty's loops) must not.
          .filter(l -> l.contains(" ch.qos.logback.") || l.contains(" io.netty.") || l.contains(" io.vertx.core.impl.VertxImpl")).toList();
      assertEquals(List.of(), loaded.stream().limit(5).toList(), String.join(" ", args) + " loads what only the daemon needs");
    }
  }
}
