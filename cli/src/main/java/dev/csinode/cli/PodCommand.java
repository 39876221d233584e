package dev.csinode.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code csi-node-agent pod}: how a container runtime pushes pods to a running agent. */
@Command(name = "pod", mixinStandardHelpOptions = true, description = "Push pods to a running agent and wait for their volumes.")  // subcommands: Main.NESTED
public final class PodCommand implements Runnable {
  @Override
  public void run() {
    Main.withNested(new picocli.CommandLine(this), "pod", null).usage(System.out);
  }

  static int print(ApiClient.Answer a) {
    (a.status() / 100 == 2 ? System.out : System.err).println(TerminalText.json(a.body()));
    return a.status() / 100 == 2 ? 0 : 1;
  }

  /** NAMESPACE/NAME as the path of the pod's resource, {@code /v1/pods/<namespace>/<name>}, or an error saying why not. */
  static String podPath(String podRef) {
    String[] p = podRef.split("/", -1);
    if (p.length != 2 || p[0].isEmpty() || p[1].isEmpty()) {
      throw new IllegalArgumentException("'" + podRef + "' must be NAMESPACE/NAME");
    }
    return "/v1/pods/" + ApiClient.pathSegment(p[0], "namespace") + "/" + ApiClient.pathSegment(p[1], "pod name");
  }

  @Command(name = "apply", mixinStandardHelpOptions = true,
      description = "Add or replace the objects of a manifest (Pod, PersistentVolumeClaim, ...; YAML or JSON).")
  static final class Apply implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Option(names = {"-f", "--filename"}, required = true, paramLabel = "FILE", description = "Manifest file, or - for standard input.")
    String file;

    @Override
    public Integer call() throws Exception {
      String body = file.equals("-") ? new String(System.in.readAllBytes()) : Files.readString(Path.of(file));
      // Stored at once (parsed and recorded; no driver is asked), so an answer of a working agent is quick.
      return print(ApiClient.send(at.socket(), "POST", "/v1/objects", body, ApiClient.QUICK));
    }
  }

  @Command(name = "get", mixinStandardHelpOptions = true, description = "Show a pod's volumes.")
  static final class Get implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Parameters(paramLabel = "NAMESPACE/NAME") String pod;

    @Override
    public Integer call() throws Exception {
      return print(ApiClient.send(at.socket(), "GET", podPath(pod), null, ApiClient.QUICK));
    }
  }

  @Command(name = "wait", mixinStandardHelpOptions = true,
      description = "Wait until every volume of the pod is published; prints the host paths to bind into the containers.")
  static final class Wait implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Parameters(paramLabel = "NAMESPACE/NAME") String pod;

    @Option(names = "--timeout", defaultValue = "30s", converter = DurationOption.class, paramLabel = "DURATION",
        description = "How long to wait (default: ${DEFAULT-VALUE}).")
    Duration timeout;

    @Override
    public Integer call() throws Exception {
      String path = podPath(pod);
      String wait;
      try {
        wait = ApiClient.waitParameter(timeout);
      } catch (IllegalArgumentException e) { // a usage error, as in orphans: status 2, before any request
        System.err.println("pod wait: " + TerminalText.text(e.getMessage()));
        return 2;
      }
      return print(ApiClient.send(at.socket(), "GET", path + "?wait=" + wait, null, ApiClient.waitDeadline(wait)));
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a pushed pod; its volumes are torn down.")
  static final class Delete implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Parameters(paramLabel = "NAMESPACE/NAME") String pod;

    @Override
    public Integer call() throws Exception {
      // The pushed pod's record goes at once; its volumes are torn down afterwards, not during the request.
      return print(ApiClient.send(at.socket(), "DELETE", podPath(pod), null, ApiClient.QUICK));
    }
  }
}
