package dev.csinode.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code csi-node-agent simulate}: to be written (issue 13). */
@Command(name = "simulate", mixinStandardHelpOptions = true, description = "To be written.")
public final class SimulateCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    return 2;
  }
}
