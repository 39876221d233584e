package dev.csinode.cli;

import com.fasterxml.jackson.databind.JsonNode;
import static dev.csinode.cli.TerminalText.text;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code csi-node-agent orphans}: the orphaned pod directories a running agent sees. A dry run by default; the
 * agent removes them itself at each resync (unless run with {@code --remove-orphans=false}).
 */
@Command(name = "orphans", mixinStandardHelpOptions = true,
    description = {"Report orphaned pod directories (<root-dir>/pods/<uid> of pods no source names and that hold no volume) "
        + "and what a cleanup does with each: remove it, or keep it and why (something is mounted below it, or it holds "
        + "files the agent did not create). Nothing is changed unless --remove is given.",
        "The agent also cleans up at each resync unless it runs with --remove-orphans=false."})
public final class OrphansCommand implements Callable<Integer> {
  @ArgGroup(exclusive = true)
  ApiClient.Where where;

  @Option(names = "--remove", description = "Remove now the directories that can go (by default: a dry run).")
  boolean remove;

  @Option(names = "--timeout", converter = DurationOption.class, paramLabel = "DURATION",
      description = "How long to wait for the agent's answer; past it the command fails with status 1 (default: 30s; with "
          + "--remove 2m30s: the 2 min the kubelet gives a driver's call, and 30s more).")
  Duration timeout;

  @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
  String output;

  /**
   * How long {@code --remove} waits. The cleanup is a housekeeping pass that starts after the one running now, checks
   * every published path (statx: a mount whose driver hangs, such as a FUSE daemon, holds it) and then removes
   * directories. A working agent answers in well under a second; a held-up one gets an error, not a shell that hangs.
   * As long as the kubelet lets a driver take for one call (its csiTimeout, 2 min), and the quick deadline more.
   */
  static final Duration REMOVE_DEADLINE = Duration.ofMinutes(2).plus(ApiClient.QUICK);

  @Override
  public Integer call() throws Exception {
    if (!output.equals("table") && !output.equals("json")) {
      System.err.println("orphans: -o must be table or json, not '" + text(output) + "'");
      return 2;
    }
    if (timeout != null) {
      try {
        ApiClient.waitParameter(timeout); // at most 24 h, as pod wait's
      } catch (IllegalArgumentException e) {
        System.err.println("orphans: " + text(e.getMessage()));
        return 2;
      }
      if (timeout.isZero()) {
        System.err.println("orphans: --timeout must be more than 0");
        return 2;
      }
    }
    Duration deadline = timeout == null ? (remove ? REMOVE_DEADLINE : ApiClient.QUICK) : timeout;
    Path socket = ApiClient.Where.socket(where);
    ApiClient.Answer resp;
    try {
      resp = remove ? ApiClient.send(socket, "POST", "/v1/orphans/cleanup", "", deadline)
          : ApiClient.send(socket, "GET", "/v1/orphans", null, deadline);
    } catch (ApiConnection.ApiTimeoutException e) {
      // The agent goes on without us: what it removes was checked to hold no mount, and anything it keeps is listed.
      System.err.println("orphans: " + text(e.getMessage()) + (remove ? ". The cleanup may still finish in the agent (it"
          + " never removes a directory that is or holds a mount point): run `orphans` to see what is left, and look in"
          + " the agent's log for a driver or mount that does not answer" : ""));
      return 1;
    } catch (Exception e) {
      System.err.println("orphans: " + text(e.getMessage()));
      return 1;
    }
    if (resp.status() != 200) {
      System.err.println("orphans: the agent answered " + resp.status() + ": " + TerminalText.agentError(resp.body()));
      return 1;
    }
    if (output.equals("json")) {
      System.out.println(TerminalText.json(resp.body()));
      return 0;
    }
    JsonNode list = AgentJson.read(resp.body()).path("orphanedPodDirectories");
    if (list.isEmpty()) {
      System.out.println("no orphaned pod directories");
      return 0;
    }
    if (!remove) {
      System.out.println("dry run: nothing changed");
    }
    for (JsonNode o : list) {
      String action = o.path("action").asText();
      String verb = action.equals("remove") ? "would remove" : action.equals("removed") ? "removed" : "keeps";
      // The reason lists file names someone chose inside the pod directory: escaped like the path.
      System.out.println(verb + " " + text(o.path("path").asText()) + ": " + text(o.path("reason").asText()));
    }
    return 0;
  }
}
