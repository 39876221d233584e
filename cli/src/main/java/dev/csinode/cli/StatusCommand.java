package dev.csinode.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.csinode.logging.ControlCharacters;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent status}: asks a running agent over its API socket. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show the drivers a running agent knows.")
public final class StatusCommand implements Callable<Integer> {
  @ArgGroup(exclusive = true)
  ApiClient.Where where;

  @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
  String output;

  @Override
  public Integer call() throws Exception {
    if (!output.equals("table") && !output.equals("json")) {
      System.err.println("status: -o must be table or json, not '" + TerminalText.text(output) + "'");
      return 2;
    }
    ApiClient.Answer resp;
    try {
      resp = ApiClient.send(ApiClient.Where.socket(where), "GET", "/v1/status", null, ApiClient.QUICK);
    } catch (Exception e) {
      System.err.println("status: " + TerminalText.text(e.getMessage()));
      return 1;
    }
    if (resp.status() != 200) {
      System.err.println("status: the agent answered " + resp.status() + ": " + TerminalText.agentError(resp.body()));
      return 1;
    }
    if (output.equals("json")) {
      System.out.println(TerminalText.json(resp.body()));
    } else {
      printTable(AgentJson.read(resp.body()));
    }
    return 0;
  }

  private static void printTable(JsonNode report) {
    printDrivers(report);
    List<String[]> pods = new ArrayList<>();
    pods.add(new String[] {"POD", "VOLUME", "STATE", "DRIVER", "HOST PATH / LAST ERROR"});
    for (JsonNode p : report.path("pods")) {
      for (JsonNode v : p.path("volumes")) {
        String detail = v.path("hostPath").isTextual() ? v.path("hostPath").asText()
            : v.path("lastError").isTextual() ? v.path("lastError").asText() + " (retry " + v.path("nextRetryAt").asText() + ")" : "";
        pods.add(new String[] {p.path("pod").asText(), v.path("name").asText(), v.path("state").asText(), v.path("driver").asText(), detail});
      }
      for (JsonNode e : p.path("errors")) {
        pods.add(new String[] {p.path("pod").asText(), "-", "error", "-", e.asText()});
      }
      for (JsonNode w : p.path("waiting")) {
        pods.add(new String[] {p.path("pod").asText(), "-", "waiting", "-", w.asText()});
      }
      for (JsonNode n : p.path("notHandled")) {
        pods.add(new String[] {p.path("pod").asText(), n.asText(), "not handled", "-", ""});
      }
    }
    if (pods.size() > 1) {
      System.out.println();
      print(pods);
    }
    for (JsonNode c : report.path("provisioning").path("claims")) {
      System.out.println("claim " + c.path("claim").asText() + ": " + c.path("state").asText()
          + (c.path("lastError").isTextual() ? ": " + c.path("lastError").asText() : "")
          + (c.path("nextRetryAt").isTextual() ? " (retry " + c.path("nextRetryAt").asText() + ")" : ""));
    }
    for (JsonNode v : report.path("provisioning").path("volumes")) {
      if (v.path("phase").asText().equals("Released")) {
        System.out.println("PersistentVolume " + v.path("name").asText() + " Released: " + v.path("reason").asText());
      }
    }
    for (JsonNode e : report.path("manifestErrors")) {
      line("manifest error: " + e.asText());
    }
    for (JsonNode m : report.path("unmanagedMounts")) {
      line("not managed by the agent (left alone): " + m.asText() + " is mounted");
    }
    for (JsonNode d : report.path("degradedRecords")) {
      line("DEGRADED since " + d.path("since").asText() + ": " + d.path("problem").asText());
    }
    for (JsonNode o : report.path("orphanedPodDirectories")) {
      line("orphaned pod directory " + o.path("path").asText() + " ("
          + o.path("action").asText() + ": " + o.path("reason").asText() + ")");
    }
  }

  /** Names, handles and drivers' messages come from outside: a control character in one must not make a line of its own. */
  private static void line(String text) {
    System.out.println(ControlCharacters.escape(text));
  }

  private static void print(List<String[]> rows) {
    int cols = rows.get(0).length;
    int[] w = new int[cols];
    for (String[] r : rows) {
      for (int i = 0; i < cols; i++) {
        r[i] = ControlCharacters.escape(r[i]);
      }
      for (int i = 0; i < cols - 1; i++) {
        w[i] = Math.max(w[i], r[i].length());
      }
    }
    for (String[] r : rows) {
      StringBuilder b = new StringBuilder();
      for (int i = 0; i < cols; i++) {
        b.append(i < cols - 1 ? String.format("%-" + w[i] + "s  ", r[i]) : r[i]);
      }
      System.out.println(b.toString().stripTrailing());
    }
  }

  private static void printDrivers(JsonNode report) {
    line("node " + report.path("nodeName").asText() + ", root " + report.path("rootDir").asText());
    List<String[]> rows = new ArrayList<>();
    rows.add(new String[] {"DRIVER", "STATE", "HEALTHY", "NODE ID", "ENDPOINT", "CAPABILITIES / REASON"});
    for (JsonNode d : report.path("drivers")) {
      boolean registered = d.path("state").asText().equals("registered");
      List<String> caps = new ArrayList<>();
      for (JsonNode c : d.path("capabilities")) {
        caps.add(c.asText());
      }
      rows.add(new String[] {
          d.path("name").asText("").isEmpty() ? "(" + d.path("registrationSocket").asText() + ")" : d.path("name").asText(),
          d.path("state").asText(),
          registered ? (d.path("healthy").asBoolean() ? "yes" : "NO") : "-",
          registered ? d.path("nodeId").asText() : "-",
          registered ? d.path("endpoint").asText() : "-",
          !d.path("reason").asText("").isEmpty() ? d.path("reason").asText() : registered ? String.join(",", caps) : ""});
    }
    print(rows);
  }
}
