package dev.csinode.agent.volume;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.csinode.mount.AtomicFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The kubelet's vol_data.json files: a flat JSON object of strings, written next to a staging or publish path
 * before the CSI call, read at teardown and after a restart. Written with {@link AtomicFile}.
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

  public static void write(Path dir, Map<String, String> data) throws IOException {
    // Like the kubelet, no flush: vol_data.json describes a mount, and after a reboot nothing is mounted. The
    // journal is what restarts rely on; this file is the fallback a kubelet or a lost journal can use.
    AtomicFile.writeUntilReboot(dir.resolve(FILE), JSON.writeValueAsBytes(new TreeMap<>(data)));
  }

  public static Optional<Map<String, String>> read(Path dir) throws IOException {
    try {
      return Optional.of(JSON.readValue(Files.readAllBytes(dir.resolve(FILE)), new TypeReference<Map<String, String>>() {}));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
  }

  public static void delete(Path dir) throws IOException {
    Files.deleteIfExists(dir.resolve(FILE));
  }
}
