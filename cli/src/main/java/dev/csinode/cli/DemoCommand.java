package dev.csinode.cli;

import static dev.csinode.logging.ControlCharacters.escape;

import dev.csinode.agent.Agent;
import dev.csinode.agent.VolumeManager;
import dev.csinode.agent.status.VolumeManagerStatus.PodStatus;
import dev.csinode.agent.status.VolumeManagerStatus.PodVolume;
import dev.csinode.grpc.Lifecycle;
import dev.csinode.hostpath.BundledHostpathDriver;
import dev.csinode.plugins.PluginManager;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent demo}: the agent on the embedded default. The bundled driver registers through its
 * registration socket, the example manifests are read, each volume's progress is printed as it happens, and the
 * agent keeps running (a second terminal can run {@code status}) until Ctrl-C. scripts/csi-node-agent runs it
 * in a private mount namespace, so nothing it mounts reaches the host.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Run the agent with the bundled driver on var/lib/kubelet and the examples/manifests pods, showing each volume's progress.")
public final class DemoCommand implements Callable<Integer> {
  @Option(names = "--root-dir", paramLabel = "DIR", description = "Root directory (default: var/lib/kubelet in the checkout).")
  Path rootDir;

  @Option(names = "--pod-manifests", paramLabel = "DIR",
      description = "Manifests to run (default: examples/manifests in the checkout); edit or add files while it runs.")
  Path manifestsDir;

  @Option(names = "--metrics-address", defaultValue = Agent.Config.DEFAULT_METRICS_ADDRESS, paramLabel = "HOST:PORT",
      description = "Metrics address (default: ${DEFAULT-VALUE}); empty to disable.")
  String metricsAddress;

  @Override
  public Integer call() {
    Path root = CheckoutPaths.resolve(rootDir, "var/lib/kubelet");
    Path manifests = CheckoutPaths.resolve(manifestsDir, "examples/manifests");
    Vertx vertx = Vertx.vertx();
    Agent agent = new Agent(vertx, new Agent.Config(root, "demo-node", null, BundledHostpathDriver.INSTANCE, PluginManager.Options.defaults(),
        manifests, VolumeManager.Options.defaults(), metricsAddress,
        true)); // drain: loop devices are global, the demo must not leave any behind
    Future<Agent> started = agent.start().map(a -> {
      System.out.println("agent running on " + escape(root.toString()) + " with pods from " + escape(manifests.toString()));
      System.out.println("in another terminal: scripts/csi-node-agent status --root-dir " + escape(root.toString())
          + "   (Ctrl-C here stops the agent)");
      // scripts/csi-node-agent runs the demo in a private mount namespace: its mounts are seen only from inside it.
      System.out.println("its mounts are in a private mount namespace; to look inside: nsenter --mount --target "
          + ProcessHandle.current().pid() + " findmnt -R " + escape(root.toString()));
      Map<String, String> shown = new HashMap<>();
      vertx.setPeriodic(250, t -> showProgress(a, shown));
      return a;
    });
    return Lifecycle.run(vertx, "demo", started, Agent::stop, null);
  }

  /** Prints each change of a pod volume's state, and when a pod becomes ready. */
  private static void showProgress(Agent agent, Map<String, String> shown) {
    for (PodStatus p : agent.volumeManager().pods()) {
      for (PodVolume v : p.volumes()) {
        String key = p.pod() + "/" + v.name();
        String line = v.state() + (v.hostPath() != null ? " at " + v.hostPath() : "")
            + (v.lastError() != null && !v.state().equals("published") ? " (" + v.lastError() + ")" : "");
        if (!line.equals(shown.put(key, line))) {
          System.out.printf("  pod %-22s volume %-8s %s%n", escape(p.pod()), escape(v.name()), escape(line));
        }
      }
      for (String e : p.errors()) {
        if (shown.put(p.pod() + "!" + e, e) == null) {
          System.out.printf("  pod %-22s error: %s%n", escape(p.pod()), escape(e));
        }
      }
      for (String w : p.waiting()) {
        if (shown.put(p.pod() + "?" + w, w) == null) {
          System.out.printf("  pod %-22s waiting: %s%n", escape(p.pod()), escape(w));
        }
      }
      String ready = p.ready() ? "ready" : "not ready";
      if (!ready.equals(shown.put(p.pod(), ready)) && p.ready()) {
        System.out.printf("pod %s is ready: all its volumes are published%n", escape(p.pod()));
      }
    }
  }
}
