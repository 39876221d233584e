package dev.csinode.agent.volume;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.mount.RootDir;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The kubelet's vol_data.json files: a flat JSON object of strings, written next to a staging or publish path
 * before the CSI call, read at teardown and after a restart. Written, read and removed beneath the root through
 * {@link RootDir}: atomically replaced, never through a symbolic link.
 */
public final class VolData {
  public static final String FILE = "vol_data.json";
  public static final String SPEC_VOL_ID = "specVolID";
  public static final String VOLUME_HANDLE = "volumeHandle";
  public static final String DRIVER_NAME = "driverName";
  public static final String NODE_NAME = "nodeName";
  public static final String ATTACHMENT_ID = "attachmentID";
  public static final String LIFECYCLE_MODE = "volumeLifecycleMode";
  public static final String PERSISTENT = "Persistent";
  public static final String EPHEMERAL = "Ephemeral";

  private static final ObjectMapper JSON = new ObjectMapper();

  private VolData() {}

  /** Written beneath the root without following a link: a link at the file or above it is refused, never written through. */
  public static void write(RootDir root, Path dir, Map<String, String> data) throws IOException {
    // Like the kubelet, no flush: vol_data.json describes a mount, and after a reboot nothing is mounted. The
    // journal is what restarts rely on; this file is the fallback a kubelet or a lost journal can use.
    root.writeFile(dir.resolve(FILE), JSON.writeValueAsBytes(new TreeMap<>(data)));
  }

  public static Optional<Map<String, String>> read(RootDir root, Path dir) throws IOException {
    Optional<byte[]> bytes = root.readFile(dir.resolve(FILE));
    return bytes.isEmpty() ? Optional.empty() : Optional.of(JSON.readValue(bytes.get(), new TypeReference<Map<String, String>>() {}));
  }

  public static void delete(RootDir root, Path dir) throws IOException {
    root.delete(dir.resolve(FILE));
  }
}
