package dev.csinode.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code csi-node-agent config check FILE}: the config file's checks, without starting anything. */
@Command(name = "config", mixinStandardHelpOptions = true, description = "Work with the agent's config file.",
    subcommands = ConfigCommand.Check.class)
public final class ConfigCommand implements Runnable {
  @Spec CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Check a config file as 'run --config FILE' would, without starting the agent. Exit status 0 when it "
          + "is valid, 1 when it is not (the message names the line and key), 2 for a usage error.")
  static final class Check implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The config file (e.g. /etc/csi-node-agent/config.yaml).")
    Path file;

    @Override
    public Integer call() {
      PrintWriter out = spec.commandLine().getOut();
      try {
        ConfigFile config = ConfigFile.read(file);
        out.println(TerminalText.text(file.toString()) + ": valid (" + config.values().size() + " option"
            + (config.values().size() == 1 ? "" : "s") + (config.logLevels().isEmpty() ? "" : ", " + config.logLevels().size()
            + " log level" + (config.logLevels().size() == 1 ? "" : "s")) + ")");
        config.values().forEach((k, v) -> out.println("  " + k + ": " + TerminalText.text(v)));
        config.logLevels().forEach((k, v) -> out.println("  log level " + k + ": " + v));
        out.flush();
        return 0;
      } catch (ConfigFile.InvalidConfigException e) {
        spec.commandLine().getErr().println("config check: " + TerminalText.text(e.getMessage()));
        return 1;
      }
    }
  }
}
