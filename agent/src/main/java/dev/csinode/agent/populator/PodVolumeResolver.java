package dev.csinode.agent.populator;

import dev.csinode.agent.cache.PodToMount;
import dev.csinode.agent.cache.VolumeSpec;
import dev.csinode.agent.cache.VolumeSpec.SecretRef;
import dev.csinode.agent.podsource.ClusterObjects;
import dev.csinode.agent.populator.Lookups.ClaimProblem;
import dev.csinode.agent.util.Errors;
import dev.csinode.agent.volume.AccessModes;
import dev.csinode.agent.volume.KubeletLayout;
import io.fabric8.kubernetes.api.model.CSIPersistentVolumeSource;
import io.fabric8.kubernetes.api.model.CSIVolumeSource;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.CSIDriver;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Resolves one pod's volumes against the cluster objects, as the kubelet's volume plugins do: each volume a container
 * uses (volumeMounts or volumeDevices) is an inline CSI volume, a claim bound to a PersistentVolume with
 * {@code spec.csi}, or a generic ephemeral volume's claim, and becomes a {@link VolumeSpec} and the pod's use of it;
 * or an error naming the object and field; or a wait, while the agent provisions the claim; or a volume type this
 * agent does not handle. One volume's problem never hides the pod's other volumes. Pure: the same pod and objects
 * give the same answer, and nothing is remembered between calls.
 */
public final class PodVolumeResolver {
  /** What one of a pod's volumes resolved to. */
  public sealed interface VolumeResolution permits Resolved, Failed, Waiting, NotHandled {
    /** The pod's name of the volume ({@code spec.volumes[].name}); null for an entry without a name. */
    String volume();
  }

  /** A CSI volume to stage and publish, and how this pod uses it. */
  public record Resolved(String volume, VolumeSpec spec, PodToMount mount) implements VolumeResolution {}

  /** A volume that cannot be mounted until its objects change; {@code error} names the pod, volume, object and field. */
  public record Failed(String volume, String error) implements VolumeResolution {}

  /** A volume whose claim the agent is provisioning; {@code reason} says so (and how a retried failure stands). */
  public record Waiting(String volume, String reason) implements VolumeResolution {}

  /** A volume of a type this agent does not mount (emptyDir, configMap, ...): listed, not an error. */
  public record NotHandled(String volume, String type) implements VolumeResolution {}

  /**
   * One pod's volumes, in {@code spec.volumes} order (only those a container uses). {@code podError}: why none of
   * the pod's volumes could be resolved (an unusable uid, a pod object that cannot be read), else null.
   */
  public record PodResolution(String uid, String podKey, String podError, List<VolumeResolution> volumes) {
    public PodResolution {
      volumes = List.copyOf(volumes);
    }

    public List<Resolved> resolved() {
      return volumes.stream().filter(Resolved.class::isInstance).map(Resolved.class::cast).toList();
    }

    /** The pod's error and its volumes' errors, in that order. */
    public List<String> errors() {
      List<String> out = new ArrayList<>();
      if (podError != null) {
        out.add(podError);
      }
      volumes.forEach(v -> {
        if (v instanceof Failed f) {
          out.add(f.error());
        }
      });
      return List.copyOf(out);
    }

    public List<String> waiting() {
      return volumes.stream().filter(Waiting.class::isInstance).map(v -> ((Waiting) v).reason()).toList();
    }

    /** As status shows them: {@code name (type: not handled by this agent)}. */
    public List<String> notHandled() {
      return volumes.stream().filter(NotHandled.class::isInstance)
          .map(v -> v.volume() + " (" + ((NotHandled) v).type() + ": not handled by this agent)").toList();
    }
  }

  /** A volume's problem; {@code inProgress}: the agent's own provisioning will resolve it (a wait, not an error). */
  private static final class ResolveException extends Exception {
    final boolean inProgress;

    ResolveException(String message) {
      this(message, false);
    }

    ResolveException(String message, boolean inProgress) {
      super(message);
      this.inProgress = inProgress;
    }
  }

  /** A volume's spec and whether the pod uses it read-only. */
  private record Spec(VolumeSpec spec, boolean readOnly) {}

  private PodVolumeResolver() {}

  /** The pod's volumes against these objects, with every claim without a volume taken as being provisioned. */
  public static PodResolution resolve(Pod pod, ClusterObjects objects) {
    return resolve(pod, objects, Map.of(), Map.of());
  }

  /**
   * @param claimProblems why claims are not bound (from the provisioner), by {@code namespace/name}: their pods' volumes
   *     fail with that text
   * @param claimRetries claims whose provisioning failed and is retried, and how it stands: their pods' volumes wait
   */
  public static PodResolution resolve(Pod pod, ClusterObjects objects, Map<String, String> claimProblems,
                                      Map<String, String> claimRetries) {
    return resolve(ClusterObjects.key(pod), pod, new Lookups(objects, claimProblems, claimRetries, null));
  }

  /** With the lookups the populator records; anything unforeseen in the pod object becomes the pod's error. */
  static PodResolution resolve(String podKey, Pod pod, Lookups objects) {
    try {
      return resolvePod(podKey, pod, objects);
    } catch (RuntimeException e) {
      String uid = pod.getMetadata() == null || pod.getMetadata().getUid() == null ? "" : pod.getMetadata().getUid();
      return new PodResolution(uid, podKey, "pod " + podKey + " cannot be evaluated: " + Errors.describe(e), List.of());
    }
  }

  private static PodResolution resolvePod(String podKey, Pod pod, Lookups objects) {
    String uid = pod.getMetadata().getUid();
    if (!KubeletLayout.isValidUid(uid)) {
      return new PodResolution(uid == null ? "" : uid, podKey,
          "pod " + podKey + ": metadata.uid '" + uid + "' is missing or not usable as a directory name", List.of());
    }
    Set<String> mounted = new HashSet<>();
    Set<String> devices = new HashSet<>();
    containers(pod).forEach(c -> {
      if (c != null && c.getVolumeMounts() != null) {
        c.getVolumeMounts().forEach(m -> mounted.add(m == null ? null : m.getName()));
      }
      if (c != null && c.getVolumeDevices() != null) {
        c.getVolumeDevices().forEach(d -> devices.add(d == null ? null : d.getName()));
      }
    });
    List<Volume> volumes = pod.getSpec() == null || pod.getSpec().getVolumes() == null ? List.of() : pod.getSpec().getVolumes();
    PodSecurityContext security = pod.getSpec() == null ? null : pod.getSpec().getSecurityContext();
    List<VolumeResolution> out = new ArrayList<>();
    for (int i = 0; i < volumes.size(); i++) {
      Volume vol = volumes.get(i);
      if (vol == null || vol.getName() == null || vol.getName().isEmpty()) {
        out.add(new Failed(null, "pod " + podKey + ": spec.volumes[" + i + "] " + (vol == null ? "is null" : "has no name")));
        continue;
      }
      if (!mounted.contains(vol.getName()) && !devices.contains(vol.getName())) {
        continue; // the kubelet only mounts volumes a container uses
      }
      String where = "pod " + podKey + " volume " + vol.getName();
      try {
        Spec r = resolve(pod, vol, devices.contains(vol.getName()), objects, where);
        if (r == null) {
          out.add(new NotHandled(vol.getName(), typeOf(vol)));
          continue;
        }
        out.add(new Resolved(vol.getName(), r.spec(), new PodToMount(uid, podKey, ClusterObjects.namespaceOf(pod),
            pod.getMetadata().getName(), serviceAccount(pod), vol.getName(), r.readOnly(),
            security == null ? null : security.getFsGroup(), security == null ? null : security.getFsGroupChangePolicy())));
      } catch (ResolveException e) {
        out.add(e.inProgress ? new Waiting(vol.getName(), e.getMessage()) : new Failed(vol.getName(), e.getMessage()));
      } catch (RuntimeException e) {
        out.add(new Failed(vol.getName(), where + ": cannot be evaluated: " + Errors.describe(e))); // the others still count
      }
    }
    return new PodResolution(uid, podKey, null, out);
  }

  private static Spec resolve(Pod pod, Volume vol, boolean asDevice, Lookups objects, String where) throws ResolveException {
    if (vol.getCsi() != null) {
      return inline(pod, vol, vol.getCsi(), objects, where);
    }
    if (vol.getPersistentVolumeClaim() != null) {
      String claimName = vol.getPersistentVolumeClaim().getClaimName();
      boolean ro = Boolean.TRUE.equals(vol.getPersistentVolumeClaim().getReadOnly());
      return claim(ClusterObjects.namespaceOf(pod), claimName, ro, asDevice, objects, where);
    }
    if (vol.getEphemeral() != null) {
      // A generic ephemeral volume is an ordinary claim named <pod>-<volume>, made from the template. Pod "a-b" with
      // volume "c" and pod "a" with volume "b-c" name the same claim, and a claim of that name may exist already:
      // as the kubelet does, only a claim the pod controls is used.
      String namespace = ClusterObjects.namespaceOf(pod);
      String claimName = pod.getMetadata().getName() + "-" + vol.getName();
      PersistentVolumeClaim pvc = objects.claim(namespace, claimName).orElse(null);
      if (pvc != null && !controlledBy(pvc, pod)) {
        throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " was not created for pod "
            + ClusterObjects.key(pod) + " (the pod is not its owner); the generic ephemeral volume " + vol.getName()
            + " needs that claim name: rename or remove the claim, or rename the pod or the volume");
      }
      return claim(namespace, claimName, false, asDevice, objects, where);
    }
    return null;
  }

  /** The pod is the claim's controller (metadata.ownerReferences, controller: true, the pod's uid). */
  private static boolean controlledBy(PersistentVolumeClaim pvc, Pod pod) {
    List<OwnerReference> owners = pvc.getMetadata().getOwnerReferences();
    return owners != null && owners.stream().anyMatch(o -> Boolean.TRUE.equals(o.getController())
        && pod.getMetadata().getUid().equals(o.getUid()));
  }

  private static Spec inline(Pod pod, Volume vol, CSIVolumeSource csi, Lookups objects, String where) throws ResolveException {
    String driver = csi.getDriver();
    if (driver == null || driver.isEmpty()) {
      throw new ResolveException(where + ": csi.driver is required");
    }
    validDriver(driver, where + ": csi.driver");
    if (!KubeletLayout.isValidName(vol.getName())) {
      throw new ResolveException(where + ": the volume name is not usable as a directory name");
    }
    CSIDriver d = withSpec(objects.driver(driver), where);
    List<String> modes = d == null || d.getSpec().getVolumeLifecycleModes() == null ? List.of("Persistent") : d.getSpec().getVolumeLifecycleModes();
    if (!modes.contains("Ephemeral")) {
      throw new ResolveException(where + ": inline CSI volumes of driver " + driver + " need a CSIDriver object named "
          + driver + " that lists Ephemeral in spec.volumeLifecycleModes");
    }
    String uid = pod.getMetadata().getUid();
    SecretRef publishSecret = csi.getNodePublishSecretRef() == null ? null
        : new SecretRef(ClusterObjects.namespaceOf(pod), csi.getNodePublishSecretRef().getName());
    // The kubelet stages and publishes an inline volume ReadWriteOnce, and without mount options.
    VolumeSpec spec = new VolumeSpec(KubeletLayout.uniqueInlineVolumeName(uid, vol.getName()), driver,
        KubeletLayout.inlineVolumeHandle(uid, vol.getName()), vol.getName(), true, false,
        csi.getFsType() == null ? "" : csi.getFsType(), List.of(), AccessModes.READ_WRITE_ONCE,
        noNulls(csi.getVolumeAttributes(), where + ": csi.volumeAttributes"), null, publishSecret,
        false, podInfoOnMount(d), fsGroupPolicy(d), null, null);
    checkSecret(publishSecret, objects, where + ": csi.nodePublishSecretRef");
    return new Spec(spec, Boolean.TRUE.equals(csi.getReadOnly()));
  }

  private static Spec claim(String namespace, String claimName, boolean readOnly, boolean asDevice, Lookups objects,
                                String where) throws ResolveException {
    PersistentVolumeClaim pvc = objects.claim(namespace, claimName).orElseThrow(() ->
        new ResolveException(where + ": persistentVolumeClaim.claimName " + namespace + "/" + claimName + " does not exist"));
    String pvName = pvc.getSpec() == null ? null : pvc.getSpec().getVolumeName();
    if (pvName == null || pvName.isEmpty()) {
      ClaimProblem why = objects.claimProblem(namespace + "/" + claimName);
      throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " is not bound to a PersistentVolume yet"
          + (why == null ? " (provisioning)" : why.retrying() ? " (provisioning; " + why.text() + ")" : ": " + why.text()),
          why == null || why.retrying());
    }
    PersistentVolume pv = objects.volume(pvName);
    if (pv == null) {
      throw new ResolveException(where + ": claim " + namespace + "/" + claimName + " is bound to PersistentVolume "
          + pvName + ", which does not exist");
    }
    if (pv.getSpec().getClaimRef() != null && pv.getSpec().getClaimRef().getName() != null
        && !(claimName.equals(pv.getSpec().getClaimRef().getName())
        && namespace.equals(pv.getSpec().getClaimRef().getNamespace() == null ? "default" : pv.getSpec().getClaimRef().getNamespace()))) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " is bound to claim "
          + pv.getSpec().getClaimRef().getNamespace() + "/" + pv.getSpec().getClaimRef().getName() + ", not to " + namespace + "/" + claimName);
    }
    CSIPersistentVolumeSource csi = pv.getSpec().getCsi();
    if (csi == null) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " is not a CSI volume (spec.csi is empty); "
          + "this agent handles CSI volumes only");
    }
    validDriver(csi.getDriver(), where + ": PersistentVolume " + pvName + " spec.csi.driver");
    if (csi.getVolumeHandle() == null || csi.getVolumeHandle().isEmpty()) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " spec.csi.volumeHandle is required");
    }
    if (!KubeletLayout.isValidName(pvName)) {
      throw new ResolveException(where + ": PersistentVolume name " + pvName + " is not usable as a directory name");
    }
    boolean block = "Block".equals(pv.getSpec().getVolumeMode());
    if (block != asDevice) {
      throw new ResolveException(where + ": PersistentVolume " + pvName + " has volumeMode " + (block ? "Block" : "Filesystem")
          + " but the pod uses it " + (asDevice ? "in volumeDevices" : "in volumeMounts"));
    }
    CSIDriver d = withSpec(objects.driver(csi.getDriver()), where);
    SecretRef stage = ref(csi.getNodeStageSecretRef());
    SecretRef publish = ref(csi.getNodePublishSecretRef());
    checkSecret(stage, objects, where + ": PersistentVolume " + pvName + " spec.csi.nodeStageSecretRef");
    checkSecret(publish, objects, where + ": PersistentVolume " + pvName + " spec.csi.nodePublishSecretRef");
    List<String> accessModes = pv.getSpec().getAccessModes();
    String badModes = AccessModes.unknown(accessModes, where + ": PersistentVolume " + pvName + " spec.accessModes").orElse(null);
    if (badModes != null) {
      throw new ResolveException(badModes);
    }
    VolumeSpec spec = new VolumeSpec(KubeletLayout.uniqueVolumeName(csi.getDriver(), csi.getVolumeHandle()), csi.getDriver(),
        csi.getVolumeHandle(), pvName, false, block, csi.getFsType() == null ? "" : csi.getFsType(),
        noNulls(pv.getSpec().getMountOptions(), where + ": PersistentVolume " + pvName + " spec.mountOptions"),
        AccessModes.ofVolume(accessModes),
        noNulls(csi.getVolumeAttributes(), where + ": PersistentVolume " + pvName + " spec.csi.volumeAttributes"), stage, publish,
        d == null || d.getSpec().getAttachRequired() == null || d.getSpec().getAttachRequired(),
        podInfoOnMount(d), fsGroupPolicy(d), pvName, namespace + "/" + claimName);
    return new Spec(spec, readOnly || Boolean.TRUE.equals(csi.getReadOnly()));
  }

  private static CSIDriver withSpec(CSIDriver d, String where) throws ResolveException {
    if (d != null && d.getSpec() == null) {
      throw new ResolveException(where + ": CSIDriver " + d.getMetadata().getName() + " has no spec");
    }
    return d;
  }

  /** The map, or empty for none; a null key or value is an error naming the field (CSI has no null strings). */
  private static Map<String, String> noNulls(Map<String, String> m, String field) throws ResolveException {
    if (m == null) {
      return Map.of();
    }
    for (var e : m.entrySet()) {
      if (e.getKey() == null || e.getValue() == null) {
        throw new ResolveException(field + "." + e.getKey() + " has no value");
      }
    }
    return m;
  }

  private static List<String> noNulls(List<String> l, String field) throws ResolveException {
    if (l == null) {
      return List.of();
    }
    for (int i = 0; i < l.size(); i++) {
      if (l.get(i) == null) {
        throw new ResolveException(field + "[" + i + "] is null");
      }
    }
    return l;
  }

  private static void validDriver(String driver, String field) throws ResolveException {
    try {
      KubeletLayout.requireDriver(driver);
    } catch (IllegalArgumentException e) {
      throw new ResolveException(field + ": " + e.getMessage());
    }
  }

  private static SecretRef ref(SecretReference r) {
    return r == null || r.getName() == null ? null
        : new SecretRef(r.getNamespace() == null ? "default" : r.getNamespace(), r.getName());
  }

  private static void checkSecret(SecretRef ref, Lookups objects, String field) throws ResolveException {
    if (ref != null && !objects.hasSecret(ref.namespace(), ref.name())) {
      throw new ResolveException(field + " names Secret " + ref + ", which does not exist");
    }
  }

  private static boolean podInfoOnMount(CSIDriver d) {
    return d != null && Boolean.TRUE.equals(d.getSpec().getPodInfoOnMount());
  }

  private static String fsGroupPolicy(CSIDriver d) {
    return d == null || d.getSpec().getFsGroupPolicy() == null ? "ReadWriteOnceWithFSType" : d.getSpec().getFsGroupPolicy();
  }

  private static String serviceAccount(Pod pod) {
    String sa = pod.getSpec().getServiceAccountName();
    return sa == null || sa.isEmpty() ? "default" : sa;
  }

  private static Stream<Container> containers(Pod pod) {
    if (pod.getSpec() == null) {
      return Stream.empty();
    }
    return Stream.concat(pod.getSpec().getContainers() == null ? Stream.empty() : pod.getSpec().getContainers().stream(),
        pod.getSpec().getInitContainers() == null ? Stream.empty() : pod.getSpec().getInitContainers().stream());
  }

  private static String typeOf(Volume v) {
    if (v.getEmptyDir() != null) return "emptyDir";
    if (v.getHostPath() != null) return "hostPath";
    if (v.getConfigMap() != null) return "configMap";
    if (v.getSecret() != null) return "secret";
    if (v.getProjected() != null) return "projected";
    if (v.getNfs() != null) return "nfs";
    if (v.getDownwardAPI() != null) return "downwardAPI";
    return "volume type";
  }
}
