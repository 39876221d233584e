package dev.csinode.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.csinode.agent.volume.KubeletLayout;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code csi-node-agent pv}: the PersistentVolumes the agent provisioned, as {@code kubectl get pv} and
 * {@code kubectl delete pv} show and remove them. The agent never deletes a volume whose claim it did not see go;
 * such a volume is listed as Released and removed here.
 */
@Command(name = "pv", mixinStandardHelpOptions = true,
    description = "List or delete the PersistentVolumes a running agent provisioned.")  // subcommands: Main.NESTED
public final class PvCommand implements Runnable {
  @Override
  public void run() {
    Main.withNested(new picocli.CommandLine(this), "pv", null).usage(System.out);
  }

  @Command(name = "get", mixinStandardHelpOptions = true,
      description = "List the provisioned PersistentVolumes: phase Bound or Released, and for a Released one what happens to it.")
  static final class Get implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
    String output;

    @Override
    public Integer call() throws Exception {
      ApiClient.Answer a = ApiClient.send(at.socket(), "GET", "/v1/persistentvolumes", null, ApiClient.QUICK);
      if (a.status() != 200 || output.equals("json")) {
        return PodCommand.print(a);
      }
      System.out.printf("%-44s %-9s %-8s %-24s %s%n", "NAME", "STATUS", "RECLAIM", "CLAIM", "REASON");
      for (JsonNode v : AgentJson.read(a.body()).path("items")) {
        // The agent's text (a driver's message in the reason) printed as the other tables do: escaped.
        System.out.printf("%-44s %-9s %-8s %-24s %s%n", TerminalText.text(v.path("name").asText()),
            TerminalText.text(v.path("phase").asText()), TerminalText.text(v.path("reclaimPolicy").asText()),
            TerminalText.text(v.path("claim").asText()), TerminalText.text(v.path("reason").asText()));
      }
      return 0;
    }
  }

  @Command(name = "delete", mixinStandardHelpOptions = true,
      description = {"Delete a provisioned PersistentVolume and its volume (CSI DeleteVolume), whatever its reclaimPolicy.",
          "Refused while a claim is bound to it or a pod uses it: delete the claim and the pods first."})
  static final class Delete implements Callable<Integer> {
    @Mixin ApiClient.Location at;

    @Parameters(paramLabel = "NAME", description = "The PersistentVolume's name (pvc-...), as `pv get` lists it.")
    String name;

    @Override
    public Integer call() throws Exception {
      // The agent's own rule for the names of the volumes it provisions; no deadline: the driver's DeleteVolume is
      // waited for, which the agent bounds (--csi-timeout).
      if (!KubeletLayout.isValidName(name)) {
        throw new IllegalArgumentException("'" + name + "' is not the name of a PersistentVolume the agent provisions"
            + " (letters, digits, '.', '_' and '-', no '..', at most 253 characters; `pv get` lists them)");
      }
      return PodCommand.print(ApiClient.send(at.socket(), "DELETE", "/v1/persistentvolumes/" + name, null));
    }
  }
}
