package dev.csinode.cli;

import dev.csinode.simulator.DriverBenchmark;
import dev.csinode.simulator.VolumeManagerBenchmark;
import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code scripts/csi-node-agent}: one binary, one subcommand per role. */
@Command(name = "csi-node-agent", mixinStandardHelpOptions = true, version = "csi-node-agent 0.1.0",
    description = "A node agent that does for CSI volumes what the kubelet does, without a kubelet.",
    subcommands = {RunCommand.class, StatusCommand.class, PodCommand.class, PvCommand.class, OrphansCommand.class, RegistrarCommand.class, HostpathDriverCommand.class,
        DemoCommand.class, DriverDemoCommand.class, SimulateCommand.class, CheckDriverCommand.class, FaultProxyCommand.class, CheckRegistrationCommand.class, ConfigCommand.class, DriverBenchmark.class,
        VolumeManagerBenchmark.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    System.exit(commandLine(args).execute(args));
  }

  /** The command tree for these arguments: {@code run --config FILE} gives {@code run} the file's values as defaults. */
  static CommandLine commandLine(String... args) {
    CommandLine cli = commandLine();
    int run = Arrays.asList(args).indexOf("run");
    if (run >= 0) {
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
    cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println(cmd.getCommandName() + ": " + TerminalText.text(ex.getMessage()));
      return 1;
    });
    cli.setParameterExceptionHandler((ex, args) -> {
      CommandLine cmd = ex.getCommandLine();
      PrintWriter err = cmd.getErr();
      err.println(cmd.getColorScheme().errorText(TerminalText.text(ex.getMessage())));
      if (!CommandLine.UnmatchedArgumentException.printSuggestions(ex, err)) {
        cmd.usage(err, cmd.getColorScheme());
      }
      return cmd.getExitCodeExceptionMapper() != null ? cmd.getExitCodeExceptionMapper().getExitCode(ex)
          : cmd.getCommandSpec().exitCodeOnInvalidInput();
    });
    return cli;
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
