package dev.csinode.cli;

import java.nio.file.Path;

/** The CLI's API client, for tests in other packages. */
public final class ApiClientAccess {
  private ApiClientAccess() {}

  /** status and body of one request. */
  public record Answer(int status, String body) {}

  public static Answer send(Path socket, String method, String uri, String body) throws Exception {
    ApiClient.Answer a = ApiClient.send(socket, method, uri, body);
    return new Answer(a.status(), a.body());
  }
}
