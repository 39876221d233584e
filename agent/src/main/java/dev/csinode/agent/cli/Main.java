package dev.csinode.agent.cli;

import dev.csinode.hostpath.HostpathDriverCommand;
import dev.csinode.plugins.registrar.RegistrarCommand;
import dev.csinode.simulator.DriverBenchmark;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of {@code scripts/csi-node-agent}: one binary, one subcommand per role. */
@Command(name = "csi-node-agent", mixinStandardHelpOptions = true, version = "csi-node-agent 0.1.0",
    description = "A node agent that does for CSI volumes what the kubelet does, without a kubelet.",
    subcommands = {RunCommand.class, StatusCommand.class, PodCommand.class, PvCommand.class, OrphansCommand.class, RegistrarCommand.class, HostpathDriverCommand.class,
        DemoCommand.class, DriverDemoCommand.class, DriverBenchmark.class,
        dev.csinode.agent.bench.VolumeManagerBenchmark.class})
public final class Main implements Runnable {

  public static void main(String[] args) {
    CommandLine cli = new CommandLine(new Main());
    cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      cmd.getErr().println(cmd.getCommandName() + ": " + ex.getMessage());
      return 1;
    });
    System.exit(cli.execute(args));
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
