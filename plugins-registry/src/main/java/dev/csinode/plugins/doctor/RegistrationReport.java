package dev.csinode.plugins.doctor;

import java.nio.file.Path;
import java.util.List;

/** The doctor's verdict on one registration directory: findings about the directory, then one report per socket. */
public record RegistrationReport(Path registrationDir, List<Finding> directory, List<SocketReport> sockets) {
  public RegistrationReport {
    directory = List.copyOf(directory);
    sockets = List.copyOf(sockets);
  }

  public long problems() {
    return directory.stream().filter(Finding::isProblem).count()
        + sockets.stream().flatMap(s -> s.findings().stream()).filter(Finding::isProblem).count();
  }

  public boolean healthy() {
    return problems() == 0;
  }
}
