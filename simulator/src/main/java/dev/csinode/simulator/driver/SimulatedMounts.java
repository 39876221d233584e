package dev.csinode.simulator.driver;

import dev.csinode.agent.volume.MountPoints;

/**
 * The simulated node's mount table, for node-scale runs without root: the in-memory driver "mounts" here and the
 * agent looks here. Thread-safe.
 */
public final class SimulatedMounts implements MountPoints {
  @Override
  public boolean isMountPoint(java.nio.file.Path path) {
    throw new UnsupportedOperationException("to be written");
  }

  @Override
  public dev.csinode.mount.MountTable table() {
    throw new UnsupportedOperationException("to be written");
  }

  /** Forgets every mount, as a reboot does (the simulated node's reboot). */
  public void clear() {
    throw new UnsupportedOperationException("to be written");
  }
}
