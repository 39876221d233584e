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
 * volume, group-committed). {@link #all()} is an immutable map replaced on every change, so a reader compares
 * instances to know whether anything changed. A change is in the map only once it is durable.
 */
final class ProvisionedVolumes implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ProvisionedVolumes.class);
  private static final KubernetesSerialization KUBE = new KubernetesSerialization();

  private final RecordLog records;
  private final Context context;
  private Map<String, Provisioned> all = Map.of();

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
    HashMap<String, Provisioned> loaded = new HashMap<>();
    for (var record : records.records().entrySet()) {
      try {
        PersistentVolume pv = KUBE.unmarshal(record.getValue(), PersistentVolume.class);
        KubeletLayout.requireName(pv.getMetadata().getName(), "PersistentVolume name");
        loaded.put(pv.getMetadata().getName(), new Provisioned(pv));
      } catch (RuntimeException e) {
        LOG.error("provisioned volume record {} in {} is unreadable and was skipped: {}", record.getKey(), records.file(),
            e.getMessage());
      }
    }
    all = FrozenMap.adopt(loaded);
  }

  /** By PersistentVolume name; a new instance after every change. */
  Map<String, Provisioned> all() {
    return all;
  }

  Provisioned get(String name) {
    return all.get(name);
  }

  Path file() {
    return records.file();
  }

  /** Writes the volume's record; once durable, it is in {@link #all()}. */
  Future<Provisioned> put(PersistentVolume pv) {
    String name = pv.getMetadata().getName();
    return Future.fromCompletionStage(records.put(name, KUBE.asJson(pv)), context).map(x -> {
      Provisioned p = new Provisioned(pv);
      HashMap<String, Provisioned> next = new HashMap<>(all);
      next.put(name, p);
      all = FrozenMap.adopt(next);
      return p;
    });
  }

  /** Removes the volume's record; once durable, it is gone from {@link #all()}. */
  Future<Void> remove(String name) {
    return Future.fromCompletionStage(records.remove(name), context).map(x -> {
      if (all.containsKey(name)) {
        HashMap<String, Provisioned> next = new HashMap<>(all);
        next.remove(name);
        all = FrozenMap.adopt(next);
      }
      return null;
    });
  }

  @Override
  public void close() {
    records.close();
  }
}
