package dev.csinode.cli;

import dev.csinode.simulator.DriverBenchmark;
import dev.csinode.simulator.VolumeManagerBenchmark;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** Entry point of {@code scripts/csi-node-agent}: one binary, one subcommand per role. */
@Command(name = "csi-node-agent", mixinStandardHelpOptions = true, version = "csi-node-agent 0.1.0",
    description = "A node agent that does for CSI volumes what the kubelet does, without a kubelet.")
public final class Main implements Runnable {
  /**
   * Every subcommand by its name, in the order the usage lists them. The names are their annotations' (a test
   * checks): reading those of all sixteen to find one costs a short command tens of milliseconds.
   */
  static final Map<String, Class<?>> SUBCOMMANDS = inOrder(List.of(Map.entry("run", RunCommand.class),
      Map.entry("status", StatusCommand.class), Map.entry("pod", PodCommand.class), Map.entry("pv", PvCommand.class),
      Map.entry("orphans", OrphansCommand.class), Map.entry("registrar", RegistrarCommand.class),
      Map.entry("hostpath-driver", HostpathDriverCommand.class), Map.entry("demo", DemoCommand.class),
      Map.entry("driver-demo", DriverDemoCommand.class), Map.entry("simulate", SimulateCommand.class),
      Map.entry("check-driver", CheckDriverCommand.class), Map.entry("fault-proxy", FaultProxyCommand.class),
      Map.entry("check-registration", CheckRegistrationCommand.class), Map.entry("config", ConfigCommand.class),
      Map.entry("bench-driver", DriverBenchmark.class), Map.entry("bench-agent", VolumeManagerBenchmark.class)));

  /**
   * The subcommands of a subcommand, by name, in the order its usage lists them; not in their parents' annotations,
   * so that {@code pod wait} makes the model of {@code wait} alone, as {@code status} makes that of {@code status}
   * alone (each costs a short command some 5-10 ms).
   */
  static final Map<String, Map<String, Class<?>>> NESTED = Map.of(
      "pod", inOrder(List.of(Map.entry("apply", PodCommand.Apply.class), Map.entry("get", PodCommand.Get.class),
          Map.entry("wait", PodCommand.Wait.class), Map.entry("delete", PodCommand.Delete.class))),
      "pv", inOrder(List.of(Map.entry("get", PvCommand.Get.class), Map.entry("delete", PvCommand.Delete.class))));

  /**
   * picocli's switches for work that no command here needs and that it does for every command model it makes: a
   * look for Groovy closures (a class that is nowhere, so the class loader opens the 38 MB jar and reads its 21,000
   * entries, which the class-data sharing archive otherwise spares a short command: ~10 ms), and the converters of
   * java.time and java.sql types (some 80 classes loaded and initialised through reflection; no option of such a type
   * goes without its own converter, CliStartupTest checks: durations are Go notation, DurationOption). A value given
   * on the command line (-D) wins.
   */
  static final Map<String, String> PICOCLI_PROPERTIES = Map.of("picocli.disable.closures", "true",
      "picocli.converters.excludes", "java\\.time\\..*,java\\.sql\\..*");

  @Spec CommandSpec spec;

  public static void main(String[] args) {
    for (Map.Entry<String, String> p : PICOCLI_PROPERTIES.entrySet()) {
      if (System.getProperty(p.getKey()) == null) {
        System.setProperty(p.getKey(), p.getValue());
      }
    }
    System.exit(commandLine(args).execute(args));
  }

  /**
   * The command tree for these arguments: {@code run --config FILE} gives {@code run} the file's values as defaults.
   * A command line that names a subcommand gets only that one, and of its own subcommands ({@link #NESTED}) only the
   * one it names next: picocli makes the object and the model of every command in its tree, which for all of them is
   * most of what a short command like {@code status} costs.
   */
  static CommandLine commandLine(String... args) {
    Class<?> named = args.length > 0 ? SUBCOMMANDS.get(args[0]) : null;
    CommandLine cli;
    if (named != null) {
      cli = new CommandLine(new Main()).addSubcommand(args[0], named);
      withNested(cli.getSubcommands().get(args[0]), args[0], args.length > 1 ? args[1] : null);
      withHandlers(cli);
    } else {
      cli = commandLine();
    }
    int run = Arrays.asList(args).indexOf("run");
    if (run >= 0 && cli.getSubcommands().containsKey("run")) {
      cli.getSubcommands().get("run").setDefaultValueProvider(
          RunCommand.ConfigDefaults.of(Arrays.copyOfRange(args, run + 1, args.length)));
    }
    return cli;
  }

  /**
   * The command tree with its error handlers. Both print messages that quote the command line (an unknown option,
   * a value that does not convert, a pod reference), escaped: an argument cannot print lines or terminal escapes.
   */
  static CommandLine commandLine() {
    CommandLine cli = new CommandLine(new Main());
    for (Map.Entry<String, Class<?>> sub : SUBCOMMANDS.entrySet()) {
      cli.addSubcommand(sub.getKey(), sub.getValue());
      withNested(cli.getSubcommands().get(sub.getKey()), sub.getKey(), null);
    }
    return withHandlers(cli);
  }

  /**
   * {@code command} (named {@code name}) with its own subcommands ({@link #NESTED}): the one named {@code next} if it
   * names one, else all of them (its usage lists them; an unknown one gets suggestions among them).
   */
  static CommandLine withNested(CommandLine command, String name, String next) {
    Map<String, Class<?>> nested = NESTED.getOrDefault(name, Map.of());
    if (next != null && nested.containsKey(next)) {
      command.addSubcommand(next, nested.get(next));
    } else {
      for (Map.Entry<String, Class<?>> sub : nested.entrySet()) {
        command.addSubcommand(sub.getKey(), sub.getValue());
      }
    }
    return command;
  }

  private static Map<String, Class<?>> inOrder(List<Map.Entry<String, Class<?>>> entries) {
    Map<String, Class<?>> byName = new LinkedHashMap<>();
    entries.forEach(e -> byName.put(e.getKey(), e.getValue()));
    return Collections.unmodifiableMap(byName);
  }

  /** Set on the root once its subcommands are in: picocli passes a handler on to the subcommands it has then. */
  private static CommandLine withHandlers(CommandLine cli) {
    ErrorHandlers handlers = new ErrorHandlers();
    return cli.setExecutionExceptionHandler(handlers).setParameterExceptionHandler(handlers);
  }

  /**
   * A class, not two lambdas: picocli's interfaces are Java 5 classes, which the class-data sharing archive cannot
   * hold linked, so a lambda implementing one is spun at every start (a few ms in the interpreter).
   */
  private static final class ErrorHandlers implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
      cmd.getErr().println(cmd.getCommandName() + ": " + TerminalText.text(ex.getMessage()));
      return 1;
    }

    @Override
    public int handleParseException(CommandLine.ParameterException ex, String[] args) {
      CommandLine cmd = ex.getCommandLine();
      PrintWriter err = cmd.getErr();
      err.println(cmd.getColorScheme().errorText(TerminalText.text(ex.getMessage())));
      if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, err)) {
        cmd.usage(err, cmd.getColorScheme());
      }
      return cmd.getExitCodeExceptionMapper() != null ? cmd.getExitCodeExceptionMapper().getExitCode(ex)
          : cmd.getCommandSpec().exitCodeOnInvalidInput();
    }
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
