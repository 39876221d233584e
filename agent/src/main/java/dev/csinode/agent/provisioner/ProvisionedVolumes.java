package dev.csinode.agent.provisioner;

import dev.csinode.agent.util.FrozenMap;
import dev.csinode.agent.volume.KubeletLayout;
import dev.csinode.mount.RecordLog;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PersistentVolumes this agent provisioned, kept durably in {@code <state-dir>/provisioned.log} (one record per
 * volume, group-committed). {@link #all()} is an immutable map, a new instance after any change, so a reader
 * compares instances to know whether anything changed; it is copied when asked for after a change, not at every
 * change (a burst of a thousand creations costs a copy per binding, not one per volume). A change is in the map
 * only once it is durable.
 */
final class ProvisionedVolumes implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProvisionedVolumes.class);
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();

  private final RecordLog records;
  private final Context context;
  private final HashMap<String, Provisioned> current = new HashMap<>();
  /** The last copy handed out; null after a change. */
  private Map<String, Provisioned> snapshot;

  /** Opens (or makes) the log and reads it; futures of later changes complete on {@code context}. */
  ProvisionedVolumes(Path stateDir, Context context) {
    this.context = context;
    try {
      this.records = RecordLog.open(stateDir.resolve("provisioned.log"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the provisioned volumes' log in " + stateDir, e);
    }
    // Records of an older version, a file per volume in provisioned/, are moved into the log first.
    records.adoptFiles(stateDir.resolve("provisioned"), name -> name);
    for (var record : records.records().entrySet()) {
      try {
        PersistentVolume pv = KUBE.unmarshal(record.getValue(), PersistentVolume.class);
        KubeletLayout.requireName(pv.getMetadata().getName(), "PersistentVolume name");
        current.put(pv.getMetadata().getName(), new Provisioned(pv));
      } catch (RuntimeException e) {
        LOG.error("provisioned volume record {} in {} is unreadable and was skipped: {}", record.getKey(), records.file(),
            e.getMessage());
      }
    }
  }

  /** By PersistentVolume name; a new instance after every change. */
  Map<String, Provisioned> all() {
    if (snapshot == null) {
      snapshot = FrozenMap.adopt(new HashMap<>(current));
    }
    return snapshot;
  }

  Provisioned get(String name) {
    return current.get(name);
  }

  Path file() {
    return records.file();
  }

  /** Writes the volume's record; once durable, it is in {@link #all()}. */
  Future<Provisioned> put(PersistentVolume pv) {
    String name = pv.getMetadata().getName();
    return Future.fromCompletionStage(records.put(name, KUBE.asJson(pv)), context).map(x -> {
      Provisioned p = new Provisioned(pv);
      current.put(name, p);
      snapshot = null;
      return p;
    });
  }

  /** Removes the volume's record; once durable, it is gone from {@link #all()}. */
  Future<Void> remove(String name) {
    return Future.fromCompletionStage(records.remove(name), context).map(x -> {
      if (current.remove(name) != null) {
        snapshot = null;
      }
      return null;
    });
  }

  @Override
  public void close() {
    records.close();
  }
}
