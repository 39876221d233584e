package dev.csinode.mount;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** Linux mount(2) flag bits, and the translation of mount(8)-style options into flags plus data. */
public final class MountFlags {
  public static final long MS_RDONLY = 1;
  public static final long MS_NOSUID = 2;
  public static final long MS_NODEV = 4;
  public static final long MS_NOEXEC = 8;
  public static final long MS_SYNCHRONOUS = 16;
  public static final long MS_REMOUNT = 32;
  public static final long MS_DIRSYNC = 128;
  public static final long MS_NOATIME = 1024;
  public static final long MS_NODIRATIME = 2048;
  public static final long MS_BIND = 4096;
  public static final long MS_REC = 16384;
  public static final long MS_PRIVATE = 1 << 18;
  public static final long MS_RELATIME = 1 << 21;
  public static final long MS_STRICTATIME = 1 << 24;

  public static final int MNT_DETACH = 2;
  public static final int UMOUNT_NOFOLLOW = 8;

  private MountFlags() {}

  /** Options split into kernel flags and the filesystem-specific data string. */
  public record Parsed(long flags, String data) {}

  public static Parsed parse(Collection<String> options) {
    long flags = 0;
    List<String> data = new ArrayList<>();
    for (String raw : options) {
      for (String opt : raw.split(",")) {
        String o = opt.trim();
        if (o.isEmpty()) {
          continue;
        }
        switch (o) {
          case "ro" -> flags |= MS_RDONLY;
          case "rw" -> flags &= ~MS_RDONLY;
          case "nosuid" -> flags |= MS_NOSUID;
          case "nodev" -> flags |= MS_NODEV;
          case "noexec" -> flags |= MS_NOEXEC;
          case "sync" -> flags |= MS_SYNCHRONOUS;
          case "dirsync" -> flags |= MS_DIRSYNC;
          case "noatime" -> flags |= MS_NOATIME;
          case "nodiratime" -> flags |= MS_NODIRATIME;
          case "relatime" -> flags |= MS_RELATIME;
          case "strictatime" -> flags |= MS_STRICTATIME;
          case "suid", "dev", "exec", "async", "atime", "diratime", "defaults", "bind", "rbind" -> { }
          default -> data.add(o);
        }
      }
    }
    return new Parsed(flags, String.join(",", data));
  }
}
