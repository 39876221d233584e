package dev.csinode.agent.volume;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * What the kubelet layout on disk says about CSI volumes, read without trusting any of it: every pod volume
 * directory and staging directory that holds a {@code vol_data.json}, with whether its mount path is a mount
 * point now. Used to rebuild state that the journal does not have (a lost state dir, a root dir taken over
 * from a kubelet). Names read from disk are validated like names from manifests; what fails is reported.
 */
public final class VolumeDirectories {

  /**
   * A volume found on disk. {@code podUid} is null for a staging directory; {@code path} is the publish target
   * (pod volumes) or the staging path.
   */
  public record Found(String podUid, String specName, String driver, String volumeHandle, boolean inline, boolean block,
                      Path path, boolean mounted) {}

  /** Everything found, and what could not be used (with why). */
  public record Scan(List<Found> podVolumes, List<Found> staging, List<String> problems) {}

  private VolumeDirectories() {}

  /** Blocking: lists directories and reads vol_data.json files. */
  public static Scan scan(KubeletLayout layout, Predicate<Path> isMountPoint) {
    List<Found> pods = new ArrayList<>();
    List<Found> staging = new ArrayList<>();
    List<String> problems = new ArrayList<>();
    for (Path podDir : list(layout.podsDir(), false, problems)) {
      String uid = podDir.getFileName().toString();
      if (!KubeletLayout.isValidUid(uid)) {
        continue; // not a pod directory this agent could have made
      }
      for (Path volDir : list(podDir.resolve("volumes").resolve(KubeletLayout.ESCAPED_PLUGIN_NAME), false, problems)) {
        read(layout, volDir, problems).ifPresent(data -> found(data, volDir, uid, volDir.resolve("mount"), false, isMountPoint, problems)
            .ifPresent(pods::add));
      }
    }
    Path csi = layout.root().resolve("plugins").resolve(KubeletLayout.PLUGIN_NAME);
    // Block: plugins/kubernetes.io/csi/volumeDevices/publish/<specName>/<podUid>, data in volumeDevices/<specName>/data.
    for (Path specDir : list(csi.resolve("volumeDevices").resolve("publish"), false, problems)) {
      String specName = specDir.getFileName().toString();
      if (!KubeletLayout.isValidName(specName)) {
        problems.add(specDir + ": not a volume name this agent could have made; left alone");
        continue;
      }
      var data = read(layout, layout.blockDataDir(specName), problems);
      for (Path target : list(specDir, true, problems)) {
        String uid = target.getFileName().toString();
        if (data.isEmpty() || !KubeletLayout.isValidUid(uid)) {
          problems.add(target + ": no usable " + VolData.FILE + " in " + layout.blockDataDir(specName) + " or pod UID; left alone");
          continue;
        }
        found(data.get(), layout.blockDataDir(specName), uid, target, true, isMountPoint, problems).ifPresent(pods::add);
      }
    }
    for (Path driverDir : list(csi, false, problems)) {
      if (driverDir.getFileName().toString().equals("volumeDevices")) {
        continue;
      }
      for (Path dir : list(driverDir, false, problems)) {
        read(layout, dir, problems).ifPresent(data -> found(data, dir, null, dir.resolve("globalmount"), false, isMountPoint, problems)
            .ifPresent(staging::add));
      }
    }
    return new Scan(List.copyOf(pods), List.copyOf(staging), List.copyOf(problems));
  }

  private static Optional<Found> found(Map<String, String> data, Path dataDir, String podUid, Path path, boolean block,
                                                 Predicate<Path> isMountPoint, List<String> problems) {
    String driver = data.get(VolData.DRIVER_NAME);
    String handle = data.get(VolData.VOLUME_HANDLE);
    String specName = data.getOrDefault(VolData.SPEC_VOL_ID, path.getParent().getFileName().toString());
    boolean inline = VolData.EPHEMERAL.equals(data.get(VolData.LIFECYCLE_MODE));
    try {
      KubeletLayout.requireDriver(driver);
      KubeletLayout.requireName(specName, VolData.SPEC_VOL_ID);
      if (handle == null || handle.isEmpty()) {
        throw new IllegalArgumentException(VolData.VOLUME_HANDLE + " is missing");
      }
    } catch (IllegalArgumentException e) {
      problems.add(dataDir.resolve(VolData.FILE) + ": " + e.getMessage() + "; left alone");
      return Optional.empty();
    }
    if (podUid != null && !block && !specName.equals(path.getParent().getFileName().toString())) {
      problems.add(dataDir.resolve(VolData.FILE) + ": " + VolData.SPEC_VOL_ID + " '" + specName
          + "' does not match its directory; left alone");
      return Optional.empty();
    }
    return Optional.of(new Found(podUid, specName, driver, handle, inline, block, path, isMountPoint.test(path)));
  }

  private static Optional<Map<String, String>> read(KubeletLayout layout, Path dir, List<String> problems) {
    try {
      return VolData.read(layout.rootDir(), dir);
    } catch (IOException e) {
      problems.add(dir.resolve(VolData.FILE) + " is unreadable: " + e.getMessage() + "; left alone");
      return Optional.empty();
    }
  }

  /** The directories in dir (and, if asked, other entries but symlinks), or none when it does not exist. */
  static List<Path> list(Path dir, boolean filesToo, List<String> problems) {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return List.of();
    }
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path p : s) {
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS) || filesToo && !Files.isSymbolicLink(p)) {
          out.add(p);
        }
      }
    } catch (IOException e) {
      problems.add("cannot list " + dir + ": " + e.getMessage());
    }
    out.sort(null);
    return out;
  }
}
