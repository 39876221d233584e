package dev.csinode.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code csi-node-agent fault-proxy}: to be written (issue 13). */
@Command(name = "fault-proxy", mixinStandardHelpOptions = true, description = "To be written.")
public final class FaultProxyCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    return 2;
  }
}
