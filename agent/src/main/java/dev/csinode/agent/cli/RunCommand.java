package dev.csinode.agent.cli;

import dev.csinode.agent.Agent;
import dev.csinode.plugins.PluginManager;
import dev.csinode.plugins.registrar.RegistrarCommand;
import dev.csinode.grpc.Lifecycle;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent run}: the agent, until SIGTERM or SIGINT. */
@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Run the node agent: discover CSI drivers through <root-dir>/plugins_registry and serve the local API.")
public final class RunCommand implements Callable<Integer> {
  @Option(names = "--root-dir", defaultValue = "/var/lib/kubelet", paramLabel = "DIR",
      description = "Kubelet-style root directory, where drivers and registrars expect it (default: ${DEFAULT-VALUE}).")
  Path rootDir;

  @Option(names = "--node-name", paramLabel = "NAME", description = "This node's name (default: the host name).")
  String nodeName;

  @Option(names = "--api-socket", paramLabel = "PATH", description = "Local API socket (default: <root-dir>/csi-node-agent.sock).")
  Path apiSocket;

  @Option(names = "--with-hostpath-driver",
      description = "Also run the bundled hostpath driver at <root-dir>/plugins/hostpath.csinode.dev/csi.sock, registered like any driver.")
  boolean withHostpathDriver;

  @Option(names = "--pod-manifests", paramLabel = "DIR",
      description = "Directory of Kubernetes manifests (Pod, PersistentVolume, PersistentVolumeClaim, StorageClass, CSIDriver, "
          + "Secret; YAML or JSON), watched for changes, like the kubelet's static pod path.")
  Path podManifests;

  @Option(names = "--metrics-address", defaultValue = Agent.Config.DEFAULT_METRICS_ADDRESS, paramLabel = "HOST:PORT",
      description = "Prometheus metrics at http://HOST:PORT/metrics; empty to disable (default: ${DEFAULT-VALUE}).")
  String metricsAddress;

  @Option(names = "--drain-on-exit",
      description = "On SIGTERM, unpublish and unstage every volume before exiting (by default volumes stay mounted, as with the kubelet).")
  boolean drainOnExit;

  @Option(names = "--probe-interval", defaultValue = "10s", paramLabel = "DURATION",
      description = "How often registered drivers are probed (default: ${DEFAULT-VALUE}).")
  String probeInterval;

  @Override
  public Integer call() throws Exception {
    String node = nodeName != null ? nodeName : InetAddress.getLocalHost().getHostName();
    Agent.Config config = new Agent.Config(rootDir, node, apiSocket, withHostpathDriver,
        PluginManager.Options.defaults().withProbeInterval(RegistrarCommand.parseDuration(probeInterval)), podManifests,
        dev.csinode.agent.VolumeManager.Options.defaults(), metricsAddress, drainOnExit);
    Vertx vertx = Vertx.vertx();
    Agent agent = new Agent(vertx, config);
    Future<Agent> started = agent.start().recover(err -> agent.stop().transform(x -> Future.failedFuture(err)));
    return Lifecycle.run(vertx, "run", started, Agent::stop, null);
  }
}
