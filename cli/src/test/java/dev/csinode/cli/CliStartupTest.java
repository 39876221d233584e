package dev.csinode.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.csinode.agent.api.AgentApiServer;
import dev.csinode.agent.api.StubApi;
import dev.csinode.agent.status.DriverStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.testing.Await;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

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
      assertLoadsNothingOfTheDaemon(args);
    }
  }

  /**
   * The commands that ask a running agent (the real API server here, over a test double of the agent behind it):
   * their one request goes over the JDK's own socket channel, so no Netty either, whose classes pull in logback.
   */
  @Test
  void apiCommandsStartNeitherLogbackNorNettyNorVertx() throws Exception {
    PodStatus ready = new PodStatus("default/p", "u1", true, List.of(new PodVolume("v", "kubernetes.io/csi/u1-v",
        "hostpath.csinode.dev", "h", "published", null, "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/v/mount", null, null)),
        List.of(), List.of(), List.of());
    Vertx vertx = Vertx.vertx();
    try {
      Path socket = dir.resolve("api.sock");
      AgentApiServer server = Await.result(AgentApiServer.start(vertx, socket, new ReadyPodApi(ready)));
      try {
        String at = "--api-socket=" + socket;
        assertTrue(assertLoadsNothingOfTheDaemon(List.of("status", at), NO_MAPPER).contains("hostpath.csinode.dev"));
        assertTrue(assertLoadsNothingOfTheDaemon(List.of("pod", "get", at, "default/p"), NO_MAPPER).contains("\"ready\" : true"));
        assertTrue(assertLoadsNothingOfTheDaemon(List.of("pod", "wait", at, "default/p"), NO_MAPPER).contains("/v/mount"));
      } finally {
        Await.result(server.stop());
      }
    } finally {
      Await.result(vertx.close());
    }
  }

  /**
   * What the API commands do without: Jackson's ObjectMapper, whose class initialisation sets up a date format (the
   * time-zone database, a calendar, the locale providers): AgentJson reads and writes their JSON instead.
   */
  private static final List<String> NO_MAPPER = List.of(" com.fasterxml.jackson.databind.ObjectMapper ", " java.text.SimpleDateFormat ");

  /** Main finds a subcommand by the name its annotation gives it, without reading sixteen annotations. */
  @Test
  void everySubcommandIsKnownByItsOwnName() {
    Main.SUBCOMMANDS.forEach((name, type) -> {
      picocli.CommandLine.Command command = type.getAnnotation(picocli.CommandLine.Command.class);
      assertEquals(command.name(), name, type.getName());
      assertEquals(0, command.aliases().length, type.getName() + " has aliases: Main would not find it by them");
    });
    assertEquals(Main.SUBCOMMANDS.keySet(), Main.commandLine().getSubcommands().keySet());
    Main.NESTED.forEach((parent, nested) -> {
      nested.forEach((name, type) -> assertEquals(name, type.getAnnotation(picocli.CommandLine.Command.class).name(), type.getName()));
      assertEquals(List.copyOf(nested.keySet()), List.copyOf(Main.commandLine().getSubcommands().get(parent).getSubcommands().keySet()));
      assertEquals(List.copyOf(nested.keySet()), List.copyOf(Main.commandLine(parent, "--help").getSubcommands().get(parent).getSubcommands().keySet()));
    });
    // A command line that names a subcommand gets that one alone, and of its subcommands the one it names.
    assertEquals(List.of("status"), List.copyOf(Main.commandLine("status", "--root-dir", "/x").getSubcommands().keySet()));
    CommandLine pod = Main.commandLine("pod", "wait", "--root-dir", "/x", "default/p").getSubcommands().get("pod");
    assertEquals(List.of("wait"), List.copyOf(pod.getSubcommands().keySet()));
  }

  /**
   * Main turns off picocli's converters of java.time and java.sql types (PICOCLI_PROPERTIES): no option or parameter
   * of any command may have such a type without a converter of its own (the durations: DurationOption), which picocli
   * could then not convert.
   */
  @Test
  void noOptionNeedsTheConvertersMainTurnsOff() {
    List<String> excluded = List.of(Main.PICOCLI_PROPERTIES.get("picocli.converters.excludes").split(","));
    List<String> typed = new ArrayList<>();
    List<CommandLine> commands = new ArrayList<>(List.of(Main.commandLine()));
    for (int i = 0; i < commands.size(); i++) {
      CommandLine c = commands.get(i);
      commands.addAll(c.getSubcommands().values());
      c.getCommandSpec().args().forEach(a -> {
        List<Class<?>> types = new ArrayList<>(List.of(a.auxiliaryTypes()));
        types.add(a.type());
        for (Class<?> t : types) {
          boolean turnedOff = excluded.stream().anyMatch(t.getName()::matches);
          typed.add(c.getCommandSpec().qualifiedName() + " " + a.paramLabel() + ": " + t.getName()
              + (turnedOff && a.converters().length == 0 ? " (excluded)" : turnedOff ? " (own converter)" : ""));
        }
      });
    }
    assertTrue(typed.size() > 100, typed.toString()); // every command's options were seen
    assertTrue(typed.stream().anyMatch(t -> t.endsWith(": java.nio.file.Path")), typed.toString());
    assertTrue(typed.stream().anyMatch(t -> t.endsWith("pod wait DURATION: java.time.Duration (own converter)")), typed.toString());
    assertTrue("java.time.Duration".matches(excluded.get(0)) && "java.sql.Timestamp".matches(excluded.get(1)), excluded.toString());
    assertEquals(List.of(), typed.stream().filter(t -> t.endsWith(" (excluded)")).toList());
  }

  /** Runs the CLI with these arguments in a JVM of its own; its output, once it exited 0 without loading them. */
  private String assertLoadsNothingOfTheDaemon(List<String> args) throws Exception {
    return assertLoadsNothingOfTheDaemon(args, List.of());
  }

  /** The same, and none of these classes either (" name " as the class+load log writes it). */
  private String assertLoadsNothingOfTheDaemon(List<String> args, List<String> norThese) throws Exception {
    String name = String.join("-", args).replaceAll("[^a-z]+", "-");
    Path classes = dir.resolve("classes-" + name + ".txt");
    Path out = dir.resolve("out-" + name + ".txt");
    List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
        "-Xlog:class+load:file=" + classes, "-cp", System.getProperty("java.class.path"), Main.class.getName()));
    cmd.addAll(args);
    Process run = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    assertTrue(run.waitFor(60, TimeUnit.SECONDS));
    String output = Files.readString(out);
    assertEquals(0, run.exitValue(), String.join(" ", args) + ":\n" + output);
    List<String> loaded = Files.readAllLines(classes).stream()
        // Vert.x interfaces (Future) may load for the verifier; an instance (VertxImpl, Netty's loops) must not.
        .filter(l -> l.contains(" ch.qos.logback.") || l.contains(" io.netty.") || l.contains(" io.vertx.core.impl.VertxImpl")
            || norThese.stream().anyMatch(l::contains)).toList();
    assertEquals(List.of(), loaded.stream().limit(5).toList(), String.join(" ", args) + " loads what only the daemon needs");
    return output;
  }

  /** A test double of the agent behind the API: one pod, ready. */
  private static final class ReadyPodApi extends StubApi {
    private final PodStatus pod;

    ReadyPodApi(PodStatus pod) {
      super(StubApi.status("n1", List.of(new DriverStatus("hostpath.csinode.dev", null, null, "registered", null, null,
          List.of(), Map.of(), 0, null, null, null)), List.of(pod)));
      this.pod = pod;
    }

    @Override
    public Optional<PodStatus> pod(String namespace, String name) {
      return Optional.of(pod).filter(p -> p.pod().equals(namespace + "/" + name));
    }

    @Override
    public Future<PodStatus> waitReady(String namespace, String name, Duration timeout) {
      return pod(namespace, name).map(Future::succeededFuture).orElseGet(() -> super.waitReady(namespace, name, timeout));
    }
  }
}
