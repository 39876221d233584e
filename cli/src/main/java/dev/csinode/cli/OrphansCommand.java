package dev.csinode.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import static dev.csinode.cli.TerminalText.text;

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

  @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
  String output;

  @Override
  public Integer call() throws Exception {
    if (!output.equals("table") && !output.equals("json")) {
      System.err.println("orphans: -o must be table or json, not '" + text(output) + "'");
      return 2;
    }
    ApiClient.Answer resp;
    try {
      resp = remove ? ApiClient.send(ApiClient.Where.socket(where), "POST", "/v1/orphans/cleanup", "")
          : ApiClient.send(ApiClient.Where.socket(where), "GET", "/v1/orphans", null, ApiClient.QUICK);
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
    JsonNode list = new ObjectMapper().readTree(resp.body()).path("orphanedPodDirectories");
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
