package dev.csinode.agent.podsource;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.csinode.agent.provisioner.Quantities;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/**
 * Reads Kubernetes manifests: YAML (several documents per file) or JSON, one object or a List. Each document is
 * mapped to its fabric8 model class on its own, so one bad document is reported with its file and position and
 * the others still count.
 */
public final class ManifestParser {
  /** kind → model class, for the kinds the agent uses; other kinds are reported and skipped. */
  static final Map<String, Class<? extends HasMetadata>> KINDS = Map.of(
      "Pod", Pod.class, "PersistentVolume", PersistentVolume.class, "PersistentVolumeClaim", PersistentVolumeClaim.class,
      "StorageClass", StorageClass.class, "CSIDriver", CSIDriver.class, "Secret", Secret.class);

  /**
   * Deepest nesting read: Kubernetes objects are a few dozen levels deep; the bound keeps a hostile document
   * from costing stack in the parser and in the mapping to model classes (the launcher runs with -Xss512k).
   */
  static final int MAX_NESTING_DEPTH = 200;
  private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(MAX_NESTING_DEPTH).build()).build());
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();

  /**
   * What one file yielded. {@code whole}: the file was read and parsed to its end, and it was not empty; when not,
   * its objects are only those before the problem (a file being written, an editor's half-saved file).
   */
  public record Result(Path file, List<HasMetadata> objects, List<String> errors, boolean whole) {
    public Result(Path file, List<HasMetadata> objects, List<String> errors) {
      this(file, objects, errors, true);
    }
  }

  private ManifestParser() {}

  public static Result parse(Path file) {
    try {
      return parse(file, Files.readString(file));
    } catch (IOException e) {
      return new Result(file, List.of(), List.of(file + ": cannot read: " + e.getMessage()), false);
    }
  }

  public static Result parse(Path file, String text) {
    List<HasMetadata> objects = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    int index = 0;
    boolean whole = !text.isBlank();
    try (MappingIterator<JsonNode> docs = YAML.readerFor(JsonNode.class).readValues(text)) {
      while (docs.hasNextValue()) {
        index++;
        JsonNode doc = docs.nextValue();
        if (doc == null || doc.isNull() || doc.isMissingNode() || (doc.isObject() && doc.isEmpty())) {
          continue;
        }
        addDocument(file, index, doc, objects, errors);
      }
    } catch (IOException | RuntimeException e) {
      errors.add(file + ": document " + Math.max(index, 1) + " is not valid YAML or JSON: " + problem(e));
      whole = false;
    }
    return new Result(file, List.copyOf(objects), List.copyOf(errors), whole);
  }

  private static void addDocument(Path file, int index, JsonNode doc, List<HasMetadata> objects, List<String> errors) {
    String where = file + " document " + index;
    String kind = doc.path("kind").asText("");
    if (kind.endsWith("List") && doc.path("items").isArray()) {
      int i = 0;
      for (JsonNode item : doc.path("items")) {
        addDocument(file, index, item, objects, errors);
        i++;
      }
      return;
    }
    Class<? extends HasMetadata> type = KINDS.get(kind);
    if (kind.isEmpty()) {
      errors.add(where + ": has no 'kind'");
      return;
    }
    if (type == null) {
      errors.add(where + ": kind " + kind + " is not used by this agent and was skipped");
      return;
    }
    try {
      HasMetadata o = KUBE.convertValue(doc, type);
      if (o.getMetadata() == null || o.getMetadata().getName() == null || o.getMetadata().getName().isEmpty()) {
        errors.add(where + ": " + kind + " has no metadata.name");
        return;
      }
      String unusable = unusablePart(o.getMetadata().getName(), "metadata.name");
      if (unusable == null && o.getMetadata().getNamespace() != null) {
        unusable = unusablePart(o.getMetadata().getNamespace(), "metadata.namespace");
      }
      if (unusable != null) {
        errors.add(where + ": " + kind + " " + o.getMetadata().getName() + ": " + unusable);
        return;
      }
      objects.add(o);
      if (o instanceof PersistentVolumeClaim c) {
        storageRequestProblem(c).ifPresent(p -> errors.add(where + ": PersistentVolumeClaim " + ClusterObjects.key(c)
            + " spec.resources.requests.storage " + p));
      }
    } catch (RuntimeException e) {
      errors.add(where + ": " + kind + " does not match the Kubernetes schema: " + firstLine(e.getMessage()));
    }
  }

  /**
   * The API server's rule for every name (a part of its paths): not '.' or '..', no '/' or '%'. It keeps keys such
   * as {@code namespace/name} unambiguous.
   */
  private static String unusablePart(String value, String field) {
    if (value.equals(".") || value.equals("..") || value.contains("/") || value.contains("%")) {
      return field + " '" + value + "' may not be '.' or '..' and may not contain '/' or '%'";
    }
    return null;
  }

  /**
   * What is wrong and where, on one line: the parsers' own messages span lines with an excerpt of the input,
   * which must not reach a log or an answer as it is.
   */
  static String problem(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof MarkedYAMLException y && y.getProblemMark() != null) {
        return y.getProblem() + " at line " + (y.getProblemMark().getLine() + 1) + ", column " + (y.getProblemMark().getColumn() + 1)
            + (y.getContext() == null ? "" : " (" + y.getContext() + ")");
      }
      if (t instanceof JsonProcessingException j) {
        return firstLine(j.getOriginalMessage()) + (j.getLocation() == null ? ""
            : " at line " + j.getLocation().getLineNr() + ", column " + j.getLocation().getColumnNr());
      }
    }
    return firstLine(e.getMessage());
  }

  /**
   * What is wrong with a claim's storage request, if anything. Reported here with the file; the claim is still
   * kept, and the provisioner gives it the same error, so its pods say why they wait.
   */
  static Optional<String> storageRequestProblem(PersistentVolumeClaim c) {
    var req = c.getSpec() == null || c.getSpec().getResources() == null ? null : c.getSpec().getResources().getRequests();
    var q = req == null ? null : req.get("storage");
    if (q == null) {
      return Optional.empty();
    }
    try {
      Quantities.bytes(q);
      return Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.of(e.getMessage());
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
