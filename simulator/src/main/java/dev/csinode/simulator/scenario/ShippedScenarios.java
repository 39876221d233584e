package dev.csinode.simulator.scenario;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The scenarios shipped in the jar under {@code scenarios/} (simulator/scenarios in the checkout): run by name
 * ({@code simulate --scenario pvc-lifecycle}), listed with their descriptions by {@code simulate --list}.
 */
public final class ShippedScenarios {
  static final String DIR = "scenarios/";
  /** A shipped scenario's name: no path separators, no dots to climb out of the directory. */
  private static final Pattern NAME = Pattern.compile("[a-z0-9][-a-z0-9]*");

  private ShippedScenarios() {}

  /** The shipped scenarios' names, sorted. */
  public static List<String> names() {
    URL url = ShippedScenarios.class.getClassLoader().getResource(DIR);
    if (url == null) {
      return List.of();
    }
    try {
      URI uri = url.toURI();
      if (uri.getScheme().equals("jar")) {
        FileSystem fs;
        try {
          fs = FileSystems.getFileSystem(uri);
        } catch (FileSystemNotFoundException e) {
          fs = FileSystems.newFileSystem(uri, Map.of());
        }
        return list(fs.getPath(DIR));
      }
      return list(Path.of(uri));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list the shipped scenarios: " + e.getMessage(), e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException("cannot list the shipped scenarios at " + url, e);
    }
  }

  private static List<String> list(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml"))
          .map(n -> n.substring(0, n.length() - ".yaml".length())).sorted().toList();
    }
  }

  /** Whether a scenario of this name is shipped. */
  public static boolean exists(String name) {
    return NAME.matcher(name).matches() && ShippedScenarios.class.getClassLoader().getResource(DIR + name + ".yaml") != null;
  }

  /** The shipped scenario; its {@code apply} files are read from the same resource directory. */
  public static Scenario load(String name) throws ScenarioException {
    if (!exists(name)) {
      throw new ScenarioException("no shipped scenario named \"" + name + "\"; shipped: " + String.join(", ", names()));
    }
    String origin = DIR + name + ".yaml";
    try {
      return ScenarioParser.parse(origin, read(origin), relative -> read(Path.of(DIR).resolve(relative).normalize().toString()));
    } catch (IOException e) {
      throw new ScenarioException(origin + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static String read(String resource) throws IOException {
    try (InputStream in = ShippedScenarios.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new NoSuchFileException(resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
