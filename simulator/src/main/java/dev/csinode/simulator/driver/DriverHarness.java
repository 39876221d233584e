package dev.csinode.simulator.driver;

import dev.csinode.simulator.proxy.FaultProxy;
import dev.csinode.simulator.proxy.FaultRules;
import dev.csinode.simulator.trace.Trace;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/** Stand-in (engine branch) for the harness helper's DriverHarness; the merge takes theirs. */
public final class DriverHarness {
  public static Future<DriverHarness> start(Vertx vertx, DriverUnderTest driver, Path workDir, Path registryDir, String nodeName,
                                            FaultRules rules, Trace trace, FaultProxy.Checks checks) {
    throw new UnsupportedOperationException("to be written");
  }

  public FaultProxy proxy() {
    throw new UnsupportedOperationException("to be written");
  }

  public String driverName() {
    throw new UnsupportedOperationException("to be written");
  }

  public boolean stageUnstage() {
    throw new UnsupportedOperationException("to be written");
  }

  public boolean canRestart() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> restartDriver() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> stopDriver() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> startDriver() {
    throw new UnsupportedOperationException("to be written");
  }

  public Future<Void> stop() {
    throw new UnsupportedOperationException("to be written");
  }
}
