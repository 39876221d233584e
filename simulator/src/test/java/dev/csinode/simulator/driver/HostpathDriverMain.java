package dev.csinode.simulator.driver;

import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.hostpath.BundledHostpathDriver;
import io.vertx.core.Vertx;
import java.nio.file.Path;

/** Test main: the bundled hostpath driver as a process of its own, for the harness's command-driver tests. */
public final class HostpathDriverMain {
  private HostpathDriverMain() {}

  /** Arguments: socket path, state dir, node name. Runs until killed. */
  public static void main(String[] args) throws Exception {
    Vertx vertx = Vertx.vertx();
    BundledHostpathDriver.INSTANCE.start(vertx, new UnixEndpoint(Path.of(args[0])), args[2], Path.of(args[1]))
        .toCompletionStage().toCompletableFuture().get();
    System.out.println("hostpath driver serving " + args[0]);
    Thread.currentThread().join();
  }
}
