package dev.csinode.simulator.node;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.simulator.driver.SimulatedMounts;
import io.vertx.core.Future;
import java.nio.file.Path;

/** Stand-in (engine branch) for the harness helper's SimulatedNode; the merge takes theirs. */
public final class SimulatedNode {
  public record Options(Path rootDir, String nodeName, VolumeManager.Options volumeOptions, SimulatedMounts simulatedMounts) {}

  public static Future<SimulatedNode> start(Options options) {
    throw new UnsupportedOperationException("to be written");
  }

  public Agent agent() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> restart(boolean crash) {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> reboot() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> stop() {
    throw new UnsupportedOperationException("to be written");
  }
}
