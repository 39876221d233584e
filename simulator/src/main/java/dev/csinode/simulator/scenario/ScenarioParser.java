package dev.csinode.simulator.scenario;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.util.JsonParserDelegate;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.csinode.agent.podsource.ManifestParser;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import dev.csinode.csi.v1.ControllerServiceCapability;
import dev.csinode.csi.v1.CsiProto;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.csi.v1.PluginCapability;
import dev.csinode.agent.provisioner.Quantities;
import dev.csinode.simulator.driver.InMemoryDriver;
import dev.csinode.simulator.proxy.FaultRule;
import dev.csinode.util.GoDuration;
import io.vertx.grpc.common.GrpcStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Reads scenario files: Jackson binds the YAML to {@link Scenario.File} and {@link Step} records, refusing unknown
 * keys and values of the wrong type with the line and column Jackson's parser reports; then each step is checked
 * (required keys, pod references, fault names, placeholders, the objects it applies) and refused with its line.
 */
public final class ScenarioParser {
  /** Step kinds as the file writes them, in the order the documentation lists them. */
  static final Map<String, Class<? extends Step>> KINDS = kinds();
  private static final Pattern NAME = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
  private static final Pattern OBJECT_NAME = Pattern.compile("[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?");
  /** Stands in for the driver's name when the applied objects are checked at parse time. */
  private static final String SAMPLE_DRIVER = "driver.example.com";
  private static final Duration DEFAULT_WAIT = Duration.ofSeconds(60);
  private static final Duration DEFAULT_BATCH_WAIT = Duration.ofMinutes(5);
  /** Caps that keep a typo (rate: 1e10) from hanging or overflowing a run. */
  private static final int MAX_PODS_PER_STEP = 100_000;
  private static final int MAX_CHURN_RATE = 10_000;
  private static final long MAX_WRITE_BYTES = 1L << 30;
  /** Linux group ids are 32-bit unsigned; (gid_t) -1 means "no change" to chown(2). */
  private static final long MAX_GID = 0xFFFF_FFFEL;
  private static final Set<String> PROVISIONED_STATES = Set.of("bound", "deleted");
  private static final ObjectMapper MAPPER = mapper();
  /** The CSI methods a wait-calls step may name: every rpc of csi.proto's services, by its short name. */
  private static final Set<String> CSI_METHODS = csiMethods();
  /** gRPC status names, OK included (a wait-calls step may wait for answered calls). */
  private static final Set<String> GRPC_CODES = grpcCodes();

  /** Reads the files an {@code apply: {file: ...}} step names, relative to the scenario. */
  public interface Includes {
    /** The file's text; a NoSuchFileException when there is none. */
    String read(String relative) throws IOException;
  }

  private ScenarioParser() {}

  /** A scenario file; {@code apply} files are read relative to its directory. */
  public static Scenario parse(Path file) throws ScenarioException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ScenarioException(file + ": no such scenario file");
    } catch (IOException e) {
      throw new ScenarioException(file + ": cannot read: " + e.getMessage(), e);
    }
    Path dir = file.toAbsolutePath().getParent();
    return parse(file.toString(), text, relative -> Files.readString(dir.resolve(relative)));
  }

  /** A scenario's text; {@code origin} names it in messages. */
  public static Scenario parse(String origin, String text, Includes includes) throws ScenarioException {
    if (text.isBlank()) {
      throw new ScenarioException(origin + ":1:1: the file is empty; a scenario needs name, description and steps");
    }
    Scenario.File raw;
    KeyTracking parser = null;
    try {
      parser = new KeyTracking(MAPPER.getFactory().createParser(text));
      raw = MAPPER.readValue(parser, Scenario.File.class);
    } catch (JsonProcessingException e) {
      // Jackson places an unknown key where it stopped reading (its value, or past it): the key's own line is wanted.
      JsonLocation at = e instanceof UnrecognizedPropertyException u && parser != null
          && parser.keys.containsKey(u.getPropertyName()) ? parser.keys.get(u.getPropertyName()) : e.getLocation();
      throw new ScenarioException(origin + ":" + where(at) + ": " + describe(e), e);
    } catch (IOException e) {
      throw new ScenarioException(origin + ": cannot read: " + e.getMessage(), e);
    }
    if (raw == null) {
      throw new ScenarioException(origin + ":1:1: the file is empty; a scenario needs name, description and steps");
    }
    return new Checker(origin, includes).check(raw);
  }

  /** The in-memory driver's options when a scenario gives none: its own defaults, as for {@code inMemory: {}}. */
  public static InMemoryDriver.Options inMemoryDefaults() {
    try {
      return MAPPER.readValue("{}", InMemoryDriver.Options.class);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("the in-memory driver's options do not bind from {}: " + e.getMessage(), e);
    }
  }

  private static String where(JsonLocation loc) {
    return loc == null ? "1:1" : Math.max(1, loc.getLineNr()) + ":" + Math.max(1, loc.getColumnNr());
  }

  /** Jackson's finding in the scenario's words: which key, what is wrong with it. */
  private static String describe(JsonProcessingException e) {
    if (e instanceof UnrecognizedPropertyException u) {
      String known = u.getKnownPropertyIds() == null ? "" : u.getKnownPropertyIds().stream().map(Object::toString).sorted()
          .collect(Collectors.joining(", "));
      String in = parentPath(u);
      return "unknown key \"" + u.getPropertyName() + "\"" + (in.isEmpty() ? " at the top level" : " in " + in)
          + (known.isEmpty() ? "" : "; known keys: " + known);
    }
    if (e instanceof JsonMappingException m) {
      String path = path(m);
      String what;
      if (m instanceof ValueInstantiationException && m.getCause() != null) {
        what = m.getCause().getMessage();
      } else if (m instanceof InvalidFormatException f && f.getTargetType() == Duration.class) {
        what = f.getOriginalMessage();
      } else if (m instanceof InvalidFormatException f) {
        what = "\"" + f.getValue() + "\" is not " + typeName(f.getTargetType())
            + (f.getCause() != null && f.getCause().getMessage() != null ? ": " + f.getCause().getMessage() : "");
      } else if (m instanceof MismatchedInputException mi && mi.getTargetType() != null) {
        what = "expected " + typeName(mi.getTargetType()) + " (" + firstLine(m.getOriginalMessage()) + ")";
      } else {
        what = firstLine(m.getOriginalMessage());
      }
      return path.isEmpty() ? what : "bad value for " + path + ": " + what;
    }
    return firstLine(e.getOriginalMessage());
  }

  private static String typeName(Class<?> type) {
    if (type == Duration.class) {
      return "a duration (e.g. 500ms, 10s, 2m)";
    }
    if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
      return "a whole number";
    }
    if (type == Double.class || type == double.class) {
      return "a number";
    }
    if (type == Boolean.class || type == boolean.class) {
      return "true or false";
    }
    if (type == String.class) {
      return "a string";
    }
    if (List.class.isAssignableFrom(type)) {
      return "a list";
    }
    return "a map (" + type.getSimpleName() + ")";
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "invalid";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  private static String path(JsonMappingException e) {
    return render(e.getPath());
  }

  private static String parentPath(JsonMappingException e) {
    List<JsonMappingException.Reference> refs = e.getPath();
    return render(refs.isEmpty() ? refs : refs.subList(0, refs.size() - 1));
  }

  private static String render(List<JsonMappingException.Reference> refs) {
    StringBuilder b = new StringBuilder();
    for (JsonMappingException.Reference r : refs) {
      if (r.getFieldName() != null) {
        b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        b.append('[').append(r.getIndex()).append(']');
      }
    }
    return b.toString();
  }

  private static Map<String, Class<? extends Step>> kinds() {
    Map<String, Class<? extends Step>> k = new LinkedHashMap<>();
    k.put("apply", Step.Apply.class);
    k.put("delete", Step.Delete.class);
    k.put("wait-ready", Step.WaitReady.class);
    k.put("wait-gone", Step.WaitGone.class);
    k.put("write-data", Step.WriteData.class);
    k.put("verify-data", Step.VerifyData.class);
    k.put("restart-agent", Step.RestartAgent.class);
    k.put("restart-driver", Step.RestartDriver.class);
    k.put("reboot", Step.Reboot.class);
    k.put("faults", Step.Faults.class);
    k.put("pods", Step.Pods.class);
    k.put("churn", Step.Churn.class);
    k.put("assert", Step.Assert.class);
    k.put("pause", Step.Pause.class);
    k.put("wait-calls", Step.WaitCalls.class);
    k.put("stale-registration", Step.StaleRegistration.class);
    k.put("remove-vol-data", Step.RemoveVolData.class);
    k.put("stop-driver", Step.StopDriver.class);
    k.put("start-driver", Step.StartDriver.class);
    k.put("assert-volume", Step.AssertVolume.class);
    k.put("assert-order", Step.AssertOrder.class);
    k.put("wait-reason", Step.WaitReason.class);
    k.put("wait-provisioned", Step.WaitProvisioned.class);
    return Collections.unmodifiableMap(k);
  }

  private static Set<String> csiMethods() {
    Set<String> names = new TreeSet<>();
    for (ServiceDescriptor service : CsiProto.getDescriptor().getServices()) {
      service.getMethods().forEach(m -> names.add(m.getName()));
    }
    return Collections.unmodifiableSet(names);
  }

  private static Set<String> grpcCodes() {
    Set<String> names = new LinkedHashSet<>();
    for (GrpcStatus status : GrpcStatus.values()) {
      names.add(status.name());
    }
    return Collections.unmodifiableSet(names);
  }

  private static ObjectMapper mapper() {
    YAMLFactory yaml = YAMLFactory.builder().enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();
    SimpleModule module = new SimpleModule("scenario");
    module.addDeserializer(Duration.class, new GoDurationDeserializer());
    module.addDeserializer(ScenarioStep.class, new StepDeserializer());
    return new ObjectMapper(yaml).registerModule(module)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  }

  /**
   * Remembers where each key was last read, for messages about unknown keys: Jackson may read past an unknown key's
   * value before it reports it.
   */
  private static final class KeyTracking extends JsonParserDelegate {
    final Map<String, JsonLocation> keys = new HashMap<>();

    KeyTracking(JsonParser p) {
      super(p);
    }

    private <T> T track(T result) throws IOException {
      if (currentToken() == JsonToken.FIELD_NAME) {
        keys.put(currentName(), currentTokenLocation());
      }
      return result;
    }

    @Override
    public JsonToken nextToken() throws IOException {
      return track(super.nextToken());
    }

    @Override
    public JsonToken nextValue() throws IOException {
      return track(super.nextValue());
    }

    @Override
    public String nextFieldName() throws IOException {
      return track(super.nextFieldName());
    }

    @Override
    public boolean nextFieldName(SerializableString name) throws IOException {
      return track(super.nextFieldName(name));
    }
  }

  /**
   * A volume limit ({@code driver.hostpath.maxVolumesPerNode}): a whole number, 0 (none) or more. Checked while it
   * is read, so that a refusal names the value's own line (a record's constructor is only called at the map's end).
   */
  static final class VolumeLimitDeserializer extends JsonDeserializer<Long> {
    @Override
    public Long deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      Long value = ctxt.readValue(p, Long.class);
      if (value != null && value < 0) {
        throw JsonMappingException.from(p, "must be 0 (no limit) or more, not " + value);
      }
      return value;
    }
  }

  /** Durations as Go writes them (the kubelet's flags do too): 500ms, 10s, 2m30s. */
  private static final class GoDurationDeserializer extends JsonDeserializer<Duration> {
    @Override
    public Duration deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      if (p.currentToken() != JsonToken.VALUE_STRING) {
        return (Duration) ctxt.handleUnexpectedToken(Duration.class, p.currentToken(), p,
            "a duration needs a unit: write e.g. 500ms, 10s or 2m, not " + p.getText());
      }
      String text = p.getText();
      try {
        return GoDuration.parse(text);
      } catch (IllegalArgumentException e) {
        throw InvalidFormatException.from(p, e.getMessage(), text, Duration.class);
      }
    }
  }

  /**
   * A step: a map with exactly one key, its kind; the value bound to the kind's record. Remembers where the step
   * starts, so that checks after binding name its line.
   */
  private static final class StepDeserializer extends JsonDeserializer<ScenarioStep> {
    @Override
    public ScenarioStep deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
      JsonLocation start = p.currentTokenLocation();
      if (p.currentToken() != JsonToken.START_OBJECT) {
        throw MismatchedInputException.from(p, ScenarioStep.class,
            "a step is a map with one key, its kind (" + String.join(", ", KINDS.keySet()) + ")");
      }
      String kind = p.nextFieldName();
      if (kind == null) {
        throw MismatchedInputException.from(p, ScenarioStep.class,
            "an empty step; a step is a map with one key, its kind (" + String.join(", ", KINDS.keySet()) + ")");
      }
      Class<? extends Step> type = KINDS.get(kind);
      if (type == null) {
        throw MismatchedInputException.from(p, ScenarioStep.class,
            "unknown step kind \"" + kind + "\"; known kinds: " + String.join(", ", KINDS.keySet()));
      }
      JsonToken value = p.nextToken();
      Step step;
      try {
        step = bind(p, ctxt, type, value);
      } catch (JsonMappingException e) {
        e.prependPath(null, kind);
        throw e;
      }
      if (step == null) {
        throw MismatchedInputException.from(p, type, kind + " needs its arguments (see simulator/README.md)");
      }
      if (p.nextToken() != JsonToken.END_OBJECT) {
        throw MismatchedInputException.from(p, ScenarioStep.class, "a step has one key, its kind; \"" + kind
            + "\" is followed by \"" + p.currentName() + "\": start each step with its own \"- \" (or indent the step's arguments under it)");
      }
      return new ScenarioStep(0, start.getLineNr(), start.getColumnNr(), step);
    }

    private static Step bind(JsonParser p, DeserializationContext ctxt, Class<? extends Step> type, JsonToken value)
        throws IOException {
      if (type == Step.Apply.class) {
        if (value == JsonToken.VALUE_STRING) {
          return new Step.Apply(p.getText(), null);
        }
        Step.ApplyFile f = ctxt.readValue(p, Step.ApplyFile.class);
        return f == null ? null : new Step.Apply(null, f.file());
      }
      if (type == Step.Pause.class) {
        return new Step.Pause(ctxt.readValue(p, Duration.class));
      }
      if (value == JsonToken.VALUE_NULL || value == JsonToken.VALUE_STRING && p.getText().isEmpty()) {
        // The steps without arguments may be written "reboot:" as well as "reboot: {}".
        if (type == Step.RestartDriver.class) {
          return new Step.RestartDriver();
        }
        if (type == Step.Reboot.class) {
          return new Step.Reboot();
        }
        if (type == Step.RestartAgent.class) {
          return new Step.RestartAgent(false);
        }
        if (type == Step.StopDriver.class) {
          return new Step.StopDriver();
        }
        if (type == Step.StartDriver.class) {
          return new Step.StartDriver();
        }
        return null;
      }
      return ctxt.readValue(p, type);
    }
  }

  /** The checks after binding: each refusal names the step's line. */
  private static final class Checker {
    private final String origin;
    private final Includes includes;
    private final Set<String> faultNames = new HashSet<>();
    private final Set<String> written = new HashSet<>();

    Checker(String origin, Includes includes) {
      this.origin = origin;
      this.includes = includes;
    }

    Scenario check(Scenario.File f) throws ScenarioException {
      if (f.name() == null || !NAME.matcher(f.name()).matches()) {
        throw new ScenarioException(origin + ":1:1: " + (f.name() == null ? "the scenario has no name" : "name \"" + f.name()
            + "\" is not a name of lower-case letters, digits and '-' (it names the scenario's directory and its reports)"));
      }
      if (f.description() == null || f.description().isBlank() || f.description().strip().contains("\n")) {
        throw new ScenarioException(origin + ":1:1: the scenario needs a description of one line (simulate --list shows it)");
      }
      if (f.steps() == null || f.steps().isEmpty()) {
        throw new ScenarioException(origin + ":1:1: the scenario has no steps");
      }
      List<FaultRule> faults = f.faults() == null ? List.of() : f.faults();
      for (FaultRule rule : faults) {
        if (rule == null || rule.name() == null || rule.name().isBlank()) {
          throw new ScenarioException(origin + ":1:1: every fault rule needs a name (steps turn it on and off by it)");
        }
        if (!faultNames.add(rule.name())) {
          throw new ScenarioException(origin + ":1:1: two fault rules are named \"" + rule.name() + "\"");
        }
      }
      List<ScenarioStep> steps = new ArrayList<>();
      for (int i = 0; i < f.steps().size(); i++) {
        ScenarioStep s = f.steps().get(i).numbered(i + 1);
        steps.add(new ScenarioStep(s.number(), s.line(), s.column(), check(s)));
      }
      return new Scenario(f.name(), f.description().strip(), f.seed(), f.driver() == null ? null : f.driver().inMemory(),
          f.volumeManager(), faults, steps, origin, f.suite(), requirements(f.requires()), f.references(), f.hints(),
          f.driver() == null ? null : f.driver().hostpath());
    }

    /** The {@code requires:} section, each capability name one the CSI protos define. */
    private Scenario.Requirements requirements(Scenario.Requirements r) throws ScenarioException {
      if (r == null) {
        return Scenario.Requirements.NONE;
      }
      known("requires.plugin", r.plugin(), names(PluginCapability.Service.Type.values()));
      known("requires.controller", r.controller(), names(ControllerServiceCapability.RPC.Type.values()));
      known("requires.node", r.node(), names(NodeServiceCapability.RPC.Type.values()));
      if (r.maxVolumesPerNode() != null && r.maxVolumesPerNode() <= 0) {
        throw new ScenarioException(origin + ":1:1: requires.maxVolumesPerNode must be positive (leave it out for any)");
      }
      return r;
    }

    private void known(String where, List<String> given, Set<String> names) throws ScenarioException {
      for (String name : given) {
        if (!names.contains(name)) {
          throw new ScenarioException(origin + ":1:1: " + where + ": \"" + name + "\" is not a capability the CSI spec defines; "
              + "known: " + String.join(", ", new TreeSet<>(names)));
        }
      }
    }

    private static Set<String> names(Enum<?>[] values) {
      Set<String> names = new HashSet<>();
      for (Enum<?> v : values) {
        if (!v.name().equals("UNKNOWN") && !v.name().equals("UNRECOGNIZED")) {
          names.add(v.name());
        }
      }
      return names;
    }

    private ScenarioException refuse(ScenarioStep s, String what) {
      return new ScenarioException(origin + ":" + s.line() + ":" + s.column() + ": " + s.step().kind() + ": " + what);
    }

    /** The step, checked and completed (defaults in place, files read). */
    private Step check(ScenarioStep s) throws ScenarioException {
      Step step = s.step();
      if (step instanceof Step.Apply a) {
        String text = a.text();
        if (a.file() != null) {
          try {
            text = includes.read(a.file());
          } catch (NoSuchFileException e) {
            throw refuse(s, "no file " + a.file() + " (a path relative to the scenario file)");
          } catch (IOException e) {
            throw refuse(s, "cannot read " + a.file() + ": " + e.getMessage());
          }
        }
        if (text == null || text.isBlank()) {
          throw refuse(s, "nothing to apply: give the objects inline (apply: |) or a file (apply: {file: objects.yaml})");
        }
        objects(s, text, Set.of(ManifestTemplate.DRIVER), -1);
        return new Step.Apply(text, a.file());
      }
      if (step instanceof Step.Delete d) {
        if (d.name() == null) {
          throw refuse(s, "which object? name is missing (e.g. delete: {kind: Pod, namespace: default, name: a})");
        }
        return new Step.Delete(d.objectKind(), d.namespace() == null ? "default" : d.namespace(), d.name());
      }
      if (step instanceof Step.WaitReady w) {
        return new Step.WaitReady(pod(s, w.pod()), positive(s, "timeout", w.timeout(), DEFAULT_WAIT));
      }
      if (step instanceof Step.WaitGone w) {
        return new Step.WaitGone(pod(s, w.pod()), positive(s, "timeout", w.timeout(), DEFAULT_WAIT));
      }
      if (step instanceof Step.WriteData w) {
        required(s, "volume", w.volume());
        fileName(s, w.file());
        if (w.size() == null) {
          throw refuse(s, "size is missing (e.g. 1Mi)");
        }
        long bytes;
        try {
          bytes = Quantities.bytes(w.size());
        } catch (IllegalArgumentException e) {
          throw refuse(s, "size " + e.getMessage());
        }
        if (bytes > MAX_WRITE_BYTES) {
          throw refuse(s, "size " + w.size() + " is more than write-data writes (at most 1Gi)");
        }
        written.add(w.file());
        return new Step.WriteData(pod(s, w.pod()), w.volume(), w.file(), w.size());
      }
      if (step instanceof Step.VerifyData v) {
        required(s, "volume", v.volume());
        fileName(s, v.file());
        if (!written.contains(v.file())) {
          throw refuse(s, "no earlier write-data writes " + v.file() + ": there is nothing to verify");
        }
        return new Step.VerifyData(pod(s, v.pod()), v.volume(), v.file());
      }
      if (step instanceof Step.AssertVolume v) {
        return checkAssertVolume(s, v);
      }
      if (step instanceof Step.AssertOrder o) {
        return checkAssertOrder(s, o);
      }
      if (step instanceof Step.WaitReason w) {
        required(s, "text", w.text());
        return new Step.WaitReason(pod(s, w.pod()), w.text(), positive(s, "timeout", w.timeout(), DEFAULT_WAIT));
      }
      if (step instanceof Step.WaitProvisioned w) {
        if (!PROVISIONED_STATES.contains(String.valueOf(w.state()))) {
          throw refuse(s, "state must be bound or deleted" + (w.state() == null ? " (it is missing)" : ", not \"" + w.state() + "\""));
        }
        return new Step.WaitProvisioned(objectRef(s, "claim", w.claim()), w.state(), positive(s, "timeout", w.timeout(), DEFAULT_WAIT));
      }
      if (step instanceof Step.Faults f) {
        if (f.on().isEmpty() && f.off().isEmpty()) {
          throw refuse(s, "name the rules to turn on and off (faults: {on: [name], off: [name]})");
        }
        for (String name : concat(f.on(), f.off())) {
          if (!faultNames.contains(name)) {
            throw refuse(s, "no fault rule named \"" + name + "\"" + (faultNames.isEmpty() ? " (the scenario's faults: list is empty)"
                : "; the scenario's rules: " + String.join(", ", new TreeSet<>(faultNames))));
          }
        }
        return f;
      }
      if (step instanceof Step.Pods p) {
        template(s, p.template());
        if (p.count() == null || p.count() < 1) {
          throw refuse(s, "count must be at least 1" + (p.count() == null ? " (it is missing)" : ", not " + p.count()));
        }
        if (p.count() > MAX_PODS_PER_STEP) {
          throw refuse(s, "count must be at most " + MAX_PODS_PER_STEP + ", not " + p.count());
        }
        return new Step.Pods(p.template(), p.count(), positive(s, "timeout", p.timeout(), DEFAULT_BATCH_WAIT));
      }
      if (step instanceof Step.Churn c) {
        template(s, c.template());
        if (c.rate() == null || !(c.rate() > 0)) {
          throw refuse(s, "rate (pods per second) must be above 0");
        }
        if (c.seconds() == null || !(c.seconds() > 0)) {
          throw refuse(s, "seconds (how long pods are created) must be above 0");
        }
        if (c.rate() > MAX_CHURN_RATE) {
          throw refuse(s, "rate must be at most " + MAX_CHURN_RATE + " pods per second, not " + c.rate());
        }
        if (c.rate() * c.seconds() > MAX_PODS_PER_STEP) {
          throw refuse(s, "rate * seconds (" + Math.round(c.rate() * c.seconds()) + " pods) must be at most " + MAX_PODS_PER_STEP);
        }
        if (c.lifetime() != null && c.lifetime().isNegative()) {
          throw refuse(s, "lifetime must not be negative");
        }
        return new Step.Churn(c.template(), c.rate(), c.seconds(), c.lifetime() == null ? Duration.ZERO : c.lifetime(),
            positive(s, "timeout", c.timeout(), DEFAULT_WAIT));
      }
      if (step instanceof Step.Assert a) {
        return checkAssert(s, a);
      }
      if (step instanceof Step.Pause p) {
        positive(s, "the pause", p.duration(), null);
        return p;
      }
      if (step instanceof Step.WaitCalls w) {
        return checkWaitCalls(s, w);
      }
      if (step instanceof Step.StaleRegistration r) {
        return staleRegistration(s, r);
      }
      if (step instanceof Step.RemoveVolData r) {
        required(s, "volume", r.volume());
        if (!OBJECT_NAME.matcher(r.volume()).matches() || r.volume().length() > 63) {
          throw refuse(s, "volume \"" + r.volume() + "\" is not a pod volume's name (lower-case letters, digits, '-')");
        }
        return new Step.RemoveVolData(pod(s, r.pod()), r.volume());
      }
      if (step instanceof Step.RestartAgent r) {
        Set<String> seen = new HashSet<>();
        for (String ref : r.forget()) {
          if (!seen.add(pod(s, ref))) {
            throw refuse(s, "forget names pod " + ref + " twice");
          }
        }
        return r;
      }
      return step; // restart-driver, reboot, stop-driver, start-driver: nothing to check beyond their types
    }

    /**
     * Litter for plugins_registry: plain names (no '/', '.', '..' or NUL), so that nothing is made outside the
     * directory; {@code {{driver}}} may stand for the driver's name (its own registration socket's name).
     */
    private Step staleRegistration(ScenarioStep s, Step.StaleRegistration r) throws ScenarioException {
      if (r.sockets().isEmpty() && r.files().isEmpty()) {
        throw refuse(s, "name the litter: sockets (dead socket files), files (regular files) or both");
      }
      Set<String> seen = new HashSet<>();
      for (String name : concat(r.sockets(), r.files())) {
        if (name == null || name.isEmpty()) {
          throw refuse(s, "an empty name; give file names such as old.example.com-reg.sock");
        }
        List<String> unknown = ManifestTemplate.unknownPlaceholders(name, Set.of(ManifestTemplate.DRIVER));
        if (!unknown.isEmpty()) {
          throw refuse(s, "unknown placeholder " + unknown.get(0) + " in \"" + name + "\"; known here: {{driver}}");
        }
        String plain = ManifestTemplate.render(name, SAMPLE_DRIVER, 0);
        if (plain.contains("/") || plain.equals(".") || plain.equals("..") || plain.contains("\0")) {
          throw refuse(s, "\"" + name + "\" must be a plain file name (no '/', not '.' or '..', no NUL): the litter goes "
              + "into plugins_registry itself");
        }
        if (!seen.add(name)) {
          throw refuse(s, "\"" + name + "\" is named twice");
        }
      }
      return r;
    }

    private Step checkAssertVolume(ScenarioStep s, Step.AssertVolume v) throws ScenarioException {
      required(s, "volume", v.volume());
      if (v.readOnly() == null && v.group() == null) {
        throw refuse(s, "give readOnly (true or false), group (a group id) or both");
      }
      if (v.group() != null && (v.group() < 0 || v.group() > MAX_GID)) {
        throw refuse(s, "group must be a group id from 0 to " + MAX_GID + ", not " + v.group());
      }
      return new Step.AssertVolume(pod(s, v.pod()), v.volume(), v.readOnly(), v.group());
    }

    private Step checkAssertOrder(ScenarioStep s, Step.AssertOrder o) throws ScenarioException {
      if (o.methods().isEmpty()) {
        throw refuse(s, "methods is missing: the CSI methods in the order the node must call them");
      }
      Set<String> known = csiMethods();
      for (String m : o.methods()) {
        if (!known.contains(m)) {
          throw refuse(s, "\"" + m + "\" is not a CSI method; known: " + String.join(", ", new TreeSet<>(known)));
        }
      }
      if (o.volume() != null && o.volume().isBlank()) {
        throw refuse(s, "volume is empty: give a volume id or leave it out (every volume)");
      }
      return o;
    }

    /** The short names of the methods the CSI services declare. */
    private static Set<String> csiMethods() {
      Set<String> names = new HashSet<>();
      for (Descriptors.ServiceDescriptor service : CsiProto.getDescriptor().getServices()) {
        service.getMethods().forEach(m -> names.add(m.getName()));
      }
      return names;
    }

    private String objectRef(ScenarioStep s, String what, String ref) throws ScenarioException {
      if (ref == null) {
        throw refuse(s, what + " is missing (namespace/name, e.g. default/data)");
      }
      String[] parts = ref.split("/", -1);
      if (parts.length != 2 || !OBJECT_NAME.matcher(parts[0]).matches() || !OBJECT_NAME.matcher(parts[1]).matches()) {
        throw refuse(s, what + " \"" + ref + "\" is not namespace/name (e.g. default/data)");
      }
      return ref;
    }

    private Step checkAssert(ScenarioStep s, Step.Assert a) throws ScenarioException {
      int given = (a.pod() != null ? 1 : 0) + (a.volumes() != null ? 1 : 0) + (a.metric() != null ? 1 : 0) + (a.calls() != null ? 1 : 0);
      if (given != 1) {
        throw refuse(s, "assert one thing: pod (with ready), volumes, metric or calls" + (given == 0 ? "" : "; this one asserts " + given));
      }
      if (a.pod() != null) {
        if (a.ready() == null) {
          throw refuse(s, "ready: true or false is missing for pod " + a.pod());
        }
        if (a.message() != null && a.message().isBlank()) {
          throw refuse(s, "message is empty; give the text the pod's status message must contain, or leave it out");
        }
        return new Step.Assert(pod(s, a.pod()), a.ready(), a.message(), null, null, null);
      }
      if (a.ready() != null || a.message() != null) {
        throw refuse(s, (a.ready() != null ? "ready" : "message") + " belongs to a pod assertion (assert: {pod: default/a, ready: true})");
      }
      if (a.volumes() != null && a.volumes().staged() == null && a.volumes().published() == null) {
        throw refuse(s, "volumes: give staged, published or both");
      }
      if (a.metric() != null) {
        required(s, "metric name", a.metric().name());
        bounds(s, "metric " + a.metric().name(), a.metric().min(), a.metric().max(), a.metric().equals());
      }
      if (a.calls() != null) {
        required(s, "calls method", a.calls().method());
        Step.CallsAssert c = a.calls();
        bounds(s, "calls " + c.method(), c.min() == null ? null : c.min().doubleValue(), c.max() == null ? null : c.max().doubleValue(),
            c.count() == null ? null : c.count().doubleValue());
      }
      return a;
    }

    /** wait-calls: a CSI method by its short name, a gRPC code by its name, min from 1, the default timeout. */
    private Step checkWaitCalls(ScenarioStep s, Step.WaitCalls w) throws ScenarioException {
      required(s, "method", w.method());
      if (!CSI_METHODS.contains(w.method())) {
        throw refuse(s, "method \"" + w.method() + "\" is not a CSI method; use one of " + String.join(", ", CSI_METHODS));
      }
      if (w.code() != null && !GRPC_CODES.contains(w.code())) {
        throw refuse(s, "code \"" + w.code() + "\" is not a gRPC status name; use one of " + String.join(", ", GRPC_CODES));
      }
      if (w.volume() != null && w.volume().isBlank()) {
        throw refuse(s, "volume is empty; leave it out to wait for calls on any volume");
      }
      if (w.min() != null && w.min() < 1) {
        throw refuse(s, "min must be at least 1, not " + w.min());
      }
      boolean inFlight = Boolean.TRUE.equals(w.inFlight());
      if (inFlight && w.code() != null) {
        throw refuse(s, "a call in flight has no code yet: give code or inFlight: true, not both");
      }
      return new Step.WaitCalls(w.method(), w.code(), w.volume(), w.min() == null ? 1 : w.min(), inFlight,
          positive(s, "timeout", w.timeout(), DEFAULT_WAIT));
    }

    private void bounds(ScenarioStep s, String what, Double min, Double max, Double equals) throws ScenarioException {
      if (min == null && max == null && equals == null) {
        throw refuse(s, what + ": give min, max or an exact value (" + (what.startsWith("calls") ? "count" : "equals") + ")");
      }
      if (equals != null && (min != null || max != null)) {
        throw refuse(s, what + ": an exact value and bounds together; give one or the other");
      }
      if (min != null && max != null && min > max) {
        throw refuse(s, what + ": min " + min + " is above max " + max);
      }
    }

    /** Checks the objects parse, with the placeholders in place, and that a template names each copy apart. */
    private void objects(ScenarioStep s, String text, Set<String> allowed, int index) throws ScenarioException {
      List<String> unknown = ManifestTemplate.unknownPlaceholders(text, allowed);
      if (!unknown.isEmpty()) {
        throw refuse(s, "unknown placeholder " + unknown.get(0) + "; known here: "
            + allowed.stream().sorted().map(n -> "{{" + n + "}}").collect(Collectors.joining(", ")));
      }
      ManifestParser.Result parsed = ManifestParser.parse(Path.of(origin), ManifestTemplate.render(text, SAMPLE_DRIVER, Math.max(index, 0)));
      if (!parsed.errors().isEmpty()) {
        throw refuse(s, "the objects do not parse: " + String.join("; ", parsed.errors()));
      }
      if (parsed.objects().isEmpty()) {
        throw refuse(s, "no Kubernetes object in the text");
      }
    }

    private void template(ScenarioStep s, String template) throws ScenarioException {
      if (template == null || template.isBlank()) {
        throw refuse(s, "template is missing (the pod's manifest, with {{i}} in its name)");
      }
      if (!ManifestTemplate.uses(template, ManifestTemplate.INDEX)) {
        throw refuse(s, "the template has no {{i}}: every copy would be the same pod");
      }
      objects(s, template, Set.of(ManifestTemplate.DRIVER, ManifestTemplate.INDEX), 0);
      boolean pods = ManifestParser.parse(Path.of(origin), ManifestTemplate.render(template, SAMPLE_DRIVER, 0)).objects().stream()
          .anyMatch(o -> "Pod".equals(o.getKind()));
      if (!pods) {
        throw refuse(s, "the template makes no Pod");
      }
    }

    private String pod(ScenarioStep s, String ref) throws ScenarioException {
      if (ref == null) {
        throw refuse(s, "pod is missing (namespace/name, e.g. default/a)");
      }
      String[] parts = ref.split("/", -1);
      if (parts.length != 2 || !OBJECT_NAME.matcher(parts[0]).matches() || !OBJECT_NAME.matcher(parts[1]).matches()) {
        throw refuse(s, "pod \"" + ref + "\" is not namespace/name (e.g. default/a)");
      }
      return ref;
    }

    private void required(ScenarioStep s, String what, String value) throws ScenarioException {
      if (value == null || value.isBlank()) {
        throw refuse(s, what + " is missing");
      }
    }

    /** A file written into a volume: one name, so that it cannot point outside the volume. */
    private void fileName(ScenarioStep s, String file) throws ScenarioException {
      required(s, "file", file);
      if (file.contains("/") || file.equals(".") || file.equals("..") || file.contains("\0")) {
        throw refuse(s, "file \"" + file + "\" must be a plain file name (no '/'), so that it stays inside the volume");
      }
    }

    private Duration positive(ScenarioStep s, String what, Duration d, Duration fallback) throws ScenarioException {
      if (d == null && fallback != null) {
        return fallback;
      }
      if (d == null || d.isZero() || d.isNegative()) {
        throw refuse(s, what + " must be a positive duration");
      }
      return d;
    }

    private static List<String> concat(List<String> a, List<String> b) {
      List<String> all = new ArrayList<>(a);
      all.addAll(b);
      return all;
    }
  }
}
