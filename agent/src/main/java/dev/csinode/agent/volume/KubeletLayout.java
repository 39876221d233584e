package dev.csinode.agent.volume;

import dev.csinode.mount.RootDir;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The kubelet's on-disk layout and naming for CSI volumes (v1.24+), so that drivers, tools and a later kubelet
 * find everything where they expect it. Every name that becomes a path segment is validated here first.
 */
public final class KubeletLayout {
  public static final String PLUGIN_NAME = "kubernetes.io/csi";
  public static final String ESCAPED_PLUGIN_NAME = "kubernetes.io~csi";
  private static final Pattern UID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9-]{0,127}");
  private static final Pattern DNS_LABELISH = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,252})?");
  private static final Pattern DRIVER = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,61}[A-Za-z0-9])?");

  private final Path root;
  private final RootDir rootDir;

  /**
   * Resolves the root once (made if missing): {@code /var/lib/kubelet} pointing to a data disk is common. Below it,
   * nothing is followed: see {@link #rootDir()}. Blocking.
   */
  public KubeletLayout(Path root) {
    try {
      Files.createDirectories(root.toAbsolutePath().normalize());
      this.rootDir = RootDir.resolve(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the root directory " + root + ": " + e.getMessage(), e);
    }
    this.root = rootDir.path();
  }

  /** The resolved root. */
  public Path root() {
    return root;
  }

  /** Every directory and file the agent makes, reads or removes below the root goes through this: never through a link. */
  public RootDir rootDir() {
    return rootDir;
  }

  public Path podsDir() {
    return root.resolve("pods");
  }

  public Path podDir(String podUid) {
    return podsDir().resolve(requireUid(podUid));
  }

  /** {@code pods/<uid>/volumes/kubernetes.io~csi/<specName>}: holds {@code mount} and the pod's vol_data.json. */
  public Path podVolumeDir(String podUid, String specName) {
    return podDir(podUid).resolve("volumes").resolve(ESCAPED_PLUGIN_NAME).resolve(requireName(specName, "volume name"));
  }

  /** NodePublishVolume target_path of a filesystem volume. */
  public Path publishPath(String podUid, String specName) {
    return podVolumeDir(podUid, specName).resolve("mount");
  }

  /** {@code plugins/kubernetes.io/csi/<driver>/<sha256(handle)>}: holds {@code globalmount} and vol_data.json. */
  public Path stagingDir(String driver, String volumeHandle) {
    return root.resolve("plugins").resolve(PLUGIN_NAME).resolve(requireDriver(driver)).resolve(sha256(volumeHandle));
  }

  /** NodeStageVolume staging_target_path of a filesystem volume. */
  public Path stagingPath(String driver, String volumeHandle) {
    return stagingDir(driver, volumeHandle).resolve("globalmount");
  }

  /** Block staging_target_path: {@code plugins/kubernetes.io/csi/volumeDevices/staging/<specName>}. */
  public Path blockStagingPath(String specName) {
    return root.resolve("plugins").resolve(PLUGIN_NAME).resolve("volumeDevices/staging").resolve(requireName(specName, "volume name"));
  }

  /** Block target_path: {@code plugins/kubernetes.io/csi/volumeDevices/publish/<specName>/<podUid>}. */
  public Path blockPublishPath(String specName, String podUid) {
    return root.resolve("plugins").resolve(PLUGIN_NAME).resolve("volumeDevices/publish")
        .resolve(requireName(specName, "volume name")).resolve(requireUid(podUid));
  }

  /** Block metadata: {@code plugins/kubernetes.io/csi/volumeDevices/<specName>/data/vol_data.json}. */
  public Path blockDataDir(String specName) {
    return root.resolve("plugins").resolve(PLUGIN_NAME).resolve("volumeDevices").resolve(requireName(specName, "volume name")).resolve("data");
  }

  /** What the pod sees: {@code pods/<uid>/volumeDevices/kubernetes.io~csi/<specName>}, a symlink to the block publish path. */
  public Path podBlockDeviceLink(String podUid, String specName) {
    return podDir(podUid).resolve("volumeDevices").resolve(ESCAPED_PLUGIN_NAME).resolve(requireName(specName, "volume name"));
  }

  public static String uniqueVolumeName(String driver, String volumeHandle) {
    return PLUGIN_NAME + "/" + driver + "^" + volumeHandle;
  }

  /**
   * {@code kubernetes.io/csi/<uid>-<volume>}, the kubelet's name, for a uid in the UUID form (the API server's, and
   * the agent's own): its fixed length makes the join unambiguous. For any other uid, {@code <uid>/<volume>}: uid
   * "a-b" with volume "c" and uid "a" with volume "b-c" must not be one volume. Neither part holds '/' or '^', so no
   * name of one form is a name of the other or of a PersistentVolume ({@code <driver>^<handle>}).
   */
  public static String uniqueInlineVolumeName(String podUid, String podVolumeName) {
    return PLUGIN_NAME + "/" + podUid + (isUuid(podUid) ? "-" : "/") + podVolumeName;
  }

  /** The unique name an older version gave every inline volume (ambiguous unless the uid is a UUID). */
  public static String legacyUniqueInlineVolumeName(String podUid, String podVolumeName) {
    return PLUGIN_NAME + "/" + podUid + "-" + podVolumeName;
  }

  /**
   * The handle of an inline (ephemeral) CSI volume: the kubelet's, {@code csi-<sha256(uid + volume)>}, for a uid in
   * the UUID form; {@code csi-<sha256(uid + "/" + volume)>} otherwise, since uid "ab" with volume "c" and uid "a"
   * with volume "bc" would be one volume in the driver.
   */
  public static String inlineVolumeHandle(String podUid, String podVolumeName) {
    return "csi-" + sha256(isUuid(podUid) ? podUid + podVolumeName : podUid + "/" + podVolumeName);
  }

  private static final Pattern UUID_FORM = Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

  static boolean isUuid(String uid) {
    return UUID_FORM.matcher(uid).matches();
  }

  public static String attachmentId(String volumeHandle, String driver, String nodeName) {
    return "csi-" + sha256(volumeHandle + driver + nodeName);
  }

  public static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public static boolean isValidUid(String uid) {
    return uid != null && UID.matcher(uid).matches();
  }

  public static boolean isValidName(String name) {
    return name != null && DNS_LABELISH.matcher(name).matches() && !name.contains("..");
  }

  public static String requireUid(String uid) {
    if (!isValidUid(uid)) {
      throw new IllegalArgumentException("pod UID '" + uid + "' is not usable as a directory name "
          + "(letters, digits and '-', at most 128 characters)");
    }
    return uid;
  }

  public static String requireName(String name, String what) {
    if (!isValidName(name)) {
      throw new IllegalArgumentException(what + " '" + name + "' is not usable as a directory name "
          + "(letters, digits, '.', '_' and '-', no '..', at most 253 characters)");
    }
    return name;
  }

  public static String requireDriver(String driver) {
    if (driver == null || !DRIVER.matcher(driver).matches()) {
      throw new IllegalArgumentException("CSI driver name '" + driver + "' is invalid (at most 63 characters, "
          + "letters, digits, '-' and '.')");
    }
    return driver;
  }

  /** The volume plugin name the kubelet's metrics give a CSI driver's operations and volumes: {@code kubernetes.io/csi:<driver>}. */
  public static String pluginName(String driver) {
    return PLUGIN_NAME + ":" + driver;
  }
}
