package dev.csinode.cli;

import static dev.csinode.cli.TerminalText.text;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.csinode.plugins.doctor.Finding;
import dev.csinode.plugins.doctor.RegistrationDoctor;
import dev.csinode.plugins.doctor.RegistrationReport;
import dev.csinode.plugins.doctor.SocketReport;
import io.vertx.core.Vertx;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code csi-node-agent check-registration}: the registration doctor, read-only. */
@Command(name = "check-registration", mixinStandardHelpOptions = true,
    description = {"Examine a node's plugin registration directory, read-only: for each socket, whether anything serves it, "
        + "what GetInfo answers and whether the kubelet would accept it, whether the endpoint answers GetPluginInfo with "
        + "the same name, NodeGetInfo and NodeGetCapabilities, and whether two sockets claim one driver; with the next "
        + "step for each problem. Works on a live agent's or kubelet's directory: it never removes, binds or notifies.",
        "Exit status: 0 all is well, 1 a problem was found, 2 usage error."})
public final class CheckRegistrationCommand implements Callable<Integer> {
  static final class Where {
    @Option(names = "--root-dir", paramLabel = "DIR", description = "The kubelet root; examines <DIR>/plugins_registry (default: /var/lib/kubelet).")
    Path rootDir;

    @Option(names = "--registration-dir", paramLabel = "DIR", description = "The registration directory itself.")
    Path registrationDir;
  }

  @ArgGroup(exclusive = true)
  Where where;

  @Option(names = "--timeout", defaultValue = "1s", converter = DurationOption.class, paramLabel = "DURATION",
      description = "Timeout of each call (GetInfo, GetPluginInfo, NodeGetInfo, NodeGetCapabilities); the kubelet gives GetInfo 1s (default: ${DEFAULT-VALUE}).")
  Duration timeout;

  @Option(names = {"-o", "--output"}, defaultValue = "table", paramLabel = "FORMAT", description = "table or json (default: ${DEFAULT-VALUE}).")
  String output;

  @Override
  public Integer call() throws Exception {
    if (!output.equals("table") && !output.equals("json")) {
      System.err.println("check-registration: -o must be table or json, not '" + text(output) + "'");
      return 2;
    }
    Path dir = where != null && where.registrationDir != null ? where.registrationDir
        : (where != null && where.rootDir != null ? where.rootDir : Path.of("/var/lib/kubelet")).resolve("plugins_registry");
    dir = dir.toAbsolutePath().normalize();
    Vertx vertx = Vertx.vertx();
    RegistrationReport report;
    try {
      report = new RegistrationDoctor(vertx, timeout).examine(dir).await();
    } finally {
      vertx.close().await();
    }
    if (output.equals("json")) {
      System.out.println(TerminalText.json(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report)));
    } else {
      print(report);
    }
    return report.healthy() ? 0 : 1;
  }

  private static void print(RegistrationReport report) {
    System.out.println("registration directory " + text(report.registrationDir()) + ": " + report.sockets().size()
        + (report.sockets().size() == 1 ? " socket" : " sockets"));
    report.directory().forEach(f -> print(f, "  "));
    for (SocketReport s : report.sockets()) {
      System.out.println("  " + text(s.socket()) + (s.driverName() == null ? "" : ": driver " + text(s.driverName())));
      s.findings().forEach(f -> print(f, "    "));
    }
    long problems = report.problems();
    System.out.println(problems == 0 ? "all is well" : problems + (problems == 1 ? " problem" : " problems") + " found");
  }

  private static void print(Finding f, String indent) {
    String level = switch (f.level()) {
      case OK -> "ok      ";
      case INFO -> "note    ";
      case PROBLEM -> "PROBLEM ";
    };
    System.out.println(indent + level + text(f.text()));
    if (!f.nextStep().isEmpty()) {
      System.out.println(indent + "        next: " + text(f.nextStep()));
    }
  }
}
