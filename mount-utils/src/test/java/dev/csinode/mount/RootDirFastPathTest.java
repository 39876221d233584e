package dev.csinode.mount;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The walk's openat2(2) fast path is an optimisation only: on every layout an attacker or a crash can leave (links in
 * the middle and at the end, absolute and relative, inside and outside the root, dangling; a file where a directory
 * belongs; missing components) each operation gives what the component-by-component walk gives, the same result or
 * the same exception with the same message, and leaves the same tree behind; nothing outside the root is ever touched.
 */
class RootDirFastPathTest {
  @TempDir Path tmp;

  /** The links the layout puts beneath the root (pods/NAME), each with the layout's continuation where it points. */
  private static final List<String> LINKS = List.of("abs-in", "abs-out", "rel-in", "rel-out", "dangling", "to-file");

  @AfterEach
  void fastPathBackOn() {
    RootDir.fastPath = true;
  }

  @Test
  void theFastPathRunsOnThisKernel() {
    // openat2 is Linux 5.6; this project's machines run far newer. Were it never taken, the comparisons below would
    // compare the walk with itself.
    assertTrue(RootDir.openat2Available(), "openat2 is available on " + System.getProperty("os.version"));
  }

  /** The primitive itself refuses every link and escape: the walk's checks are not all that stands in the way. */
  @Test
  void openat2BeneathTheRootRefusesEveryLinkAndEscape() throws Exception {
    Path base = layout(tmp.resolve("a"));
    int root = LibC.INSTANCE.openat(LibC.AT_FDCWD, base.resolve("kubelet").toString(), LibC.O_PATH | LibC.O_DIRECTORY | LibC.O_CLOEXEC, 0);
    assertTrue(root >= 0);
    try {
      for (String link : LINKS) {
        // Refused (ELOOP, or on 6.x ENOTDIR for a link in the middle), whatever the link leads to.
        for (long[] how : List.of(RootDir.HOW_DIRECTORY, RootDir.HOW_ANY)) {
          assertRefused(RootDir.openBeneath(root, "pods/" + link + "/volumes/v1", how), "through " + link);
        }
        assertRefused(RootDir.openBeneath(root, "pods/" + link, RootDir.HOW_DIRECTORY), link);
        // O_PATH|O_NOFOLLOW opens a link at the end itself, never what it points to: the walk's own check refuses it.
        int fd = RootDir.openBeneath(root, "pods/" + link, RootDir.HOW_ANY);
        assertTrue(fd >= 0, link);
        try {
          assertEquals(base.resolve("kubelet/pods/" + link), Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)));
        } finally {
          LibC.INSTANCE.close(fd);
        }
      }
      assertRefused(RootDir.openBeneath(root, "pods/u1/volumes/v3/mount", RootDir.HOW_DIRECTORY), "a swapped component");
      assertRefused(RootDir.openBeneath(root, "../outside", RootDir.HOW_DIRECTORY), "'..' out of the root");
      assertRefused(RootDir.openBeneath(root, base.resolve("outside").toString(), RootDir.HOW_DIRECTORY), "an absolute path");
      assertEquals(-LibC.ENOENT, RootDir.openBeneath(root, "pods/u9/volumes", RootDir.HOW_DIRECTORY));
      assertEquals(-LibC.ENOTDIR, RootDir.openBeneath(root, "pods/u1/file/x", RootDir.HOW_DIRECTORY));
      int fd = RootDir.openBeneath(root, "pods/u1/volumes/v1", RootDir.HOW_DIRECTORY);
      assertTrue(fd >= 0);
      LibC.INSTANCE.close(fd);
    } finally {
      LibC.INSTANCE.close(root);
    }
  }

  private static void assertRefused(int fd, String what) {
    if (fd >= 0) {
      LibC.INSTANCE.close(fd);
    }
    assertTrue(fd < 0 && fd != -LibC.ENOENT, what + ": refused, not opened nor missing (" + fd + ")");
  }

  /** Every operation on every path of the layout: the fast path and the walk agree, and nothing outside changes. */
  @Test
  void everyOperationOnEveryPathGivesWhatTheWalkGives() throws Exception {
    compareAll(false);
  }

  /** The same through a root given as a link (its paths named under the link): the fast path's relative path too. */
  @Test
  void everyOperationOnARootGivenThroughALinkGivesWhatTheWalkGives() throws Exception {
    compareAll(true);
  }

  /** What the paths through links give, stated (not only compared): a refusal naming the link, or the link itself replaced. */
  @Test
  void aLinkInTheMiddleIsRefusedAndOneAtTheEndIsRefusedOrReplacedItself() throws Exception {
    Path base = layout(tmp.resolve("a"));
    Path rootPath = base.resolve("kubelet");
    RootDir root = RootDir.resolve(rootPath);
    for (String link : LINKS) {
      Path at = rootPath.resolve("pods/" + link);
      Path below = at.resolve("volumes/v1");
      for (Op op : Op.values()) {
        SymlinkRefusedException e = assertThrows(SymlinkRefusedException.class, () -> op.run(root, below), op + " below " + link);
        assertEquals(at.toString(), e.getFile(), op + " below " + link);
      }
      for (Op op : List.of(Op.OPEN, Op.OPEN_DIRECTORY, Op.CREATE_DIRECTORIES, Op.CREATE_FILE, Op.READ_FILE, Op.KIND, Op.CREATE_BELOW)) {
        assertThrows(SymlinkRefusedException.class, () -> op.run(root, at), op + " at " + link);
      }
    }
    Path swapped = rootPath.resolve("pods/u1/volumes/v3");
    assertEquals(swapped.toString(), assertThrows(SymlinkRefusedException.class,
        () -> root.createDirectories(swapped.resolve("mount"), 0750)).getFile());
    assertTrue(root.delete(rootPath.resolve("pods/abs-out")), "the link itself goes");
    root.writeFile(rootPath.resolve("pods/rel-out"), "new".getBytes()); // replaces the link, never writes through it
    assertFalse(Files.isSymbolicLink(rootPath.resolve("pods/rel-out")));
    assertEquals(tree(base.resolve("outside")), tree(layout(tmp.resolve("fresh")).resolve("outside")), "nothing outside changed");
  }

  @Test
  void aDeepNewPathIsMadeWithTheWalksModesFromWhateverPartIsThere() throws Exception {
    for (boolean fast : List.of(true, false)) {
      RootDir.fastPath = fast;
      Path base = layout(tmp.resolve("fast-" + fast));
      Path rootPath = base.resolve("kubelet");
      RootDir root = RootDir.resolve(rootPath);
      for (String p : List.of("a/b/c/d/e/f", "pods/u1/volumes/v2/mount", "pods/u1/volumes/v1/mount/x", "pods/u7")) {
        try (PathHandle h = root.createDirectories(rootPath.resolve(p), 0750)) {
          assertEquals(rootPath.resolve(p), Files.readSymbolicLink(h.procPath()), p);
        }
        for (Path q = rootPath.resolve(p); !q.equals(rootPath); q = q.getParent()) {
          assertTrue(Files.isDirectory(q, LinkOption.NOFOLLOW_LINKS), q.toString());
        }
      }
      assertEquals("rwxr-x---", PosixFilePermissions.toString(Files.getPosixFilePermissions(rootPath.resolve("a/b/c"))));
    }
    assertEquals(tree(tmp.resolve("fast-false")).replace(tmp.resolve("fast-false").toString(), "<base>"),
        tree(tmp.resolve("fast-true")).replace(tmp.resolve("fast-true").toString(), "<base>"));
  }

  // ------------------------------------------------------------------ the comparison

  private void compareAll(boolean viaLink) throws Exception {
    List<String> paths = new ArrayList<>(List.of("", "pods/u1/volumes/v1", "pods/u1/volumes/v1/vol_data.json",
        "pods/u1/volumes/v1/mount", "pods/u9/volumes/v1", "pods/u1/volumes/v2/mount", "pods/u1/file",
        "pods/u1/file/x", "a/b/c/d/e/f", "pods/u1/volumes/v3/mount", "pods/u1/volumes/v3/vol_data.json",
        "pods/u1/volumes/v3"));
    for (String link : LINKS) {
      paths.add("pods/" + link);
      paths.add("pods/" + link + "/volumes/v1");
      paths.add("pods/" + link + "/volumes/v1/vol_data.json");
    }
    int n = 0;
    for (String p : paths) {
      for (Op op : Op.values()) {
        String fast = outcome(tmp.resolve("f" + n), viaLink, p, op, true);
        String walk = outcome(tmp.resolve("w" + n), viaLink, p, op, false);
        assertEquals(walk, fast, op + " on '" + p + "'");
        n++;
      }
    }
  }

  /** What one operation gave (a result or an exception, paths named from the base) and the tree it left. */
  private String outcome(Path base, boolean viaLink, String relative, Op op, boolean fast) throws Exception {
    layout(base);
    String before = tree(base.resolve("outside"));
    Path rootPath = base.resolve("kubelet");
    if (viaLink) {
      rootPath = Files.createSymbolicLink(base.resolve("var-lib-kubelet"), rootPath);
    }
    RootDir root = RootDir.resolve(rootPath);
    Path path = relative.isEmpty() ? rootPath : rootPath.resolve(relative);
    String result;
    RootDir.fastPath = fast;
    try {
      result = describe(op.run(root, path));
    } catch (IOException e) {
      result = e.getClass().getName() + ": " + e.getMessage() + " [" + (e instanceof FileSystemException f ? f.getFile() : "") + "]";
    } finally {
      RootDir.fastPath = true;
    }
    assertEquals(before, tree(base.resolve("outside")), op + " on '" + relative + "' changed nothing outside the root");
    // A temp file's name has a sequence number, which differs between the two runs.
    return (result + "\n" + tree(base)).replace(base.toString(), "<base>").replaceAll("\\.[0-9]+\\.tmp", ".N.tmp");
  }

  private static String describe(Object result) throws IOException {
    if (result instanceof PathHandle h) {
      try (h) {
        return "handle " + h.path() + " on " + Files.readSymbolicLink(h.procPath());
      }
    }
    if (result instanceof Optional<?> o) {
      return o.map(b -> "content " + new String((byte[]) b, StandardCharsets.UTF_8)).orElse("empty");
    }
    return String.valueOf(result);
  }

  /** Every entry beneath {@code top}, not following links: its type, mode, and a file's content or a link's target. */
  private static String tree(Path top) throws IOException {
    StringBuilder out = new StringBuilder();
    try (Stream<Path> s = Files.walk(top)) {
      for (Path p : s.sorted().toList()) {
        out.append(top.relativize(p));
        if (Files.isSymbolicLink(p)) {
          out.append(" -> ").append(Files.readSymbolicLink(p));
        } else {
          out.append(' ').append(PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)));
          if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            out.append(" = ").append(Files.readString(p));
          }
        }
        out.append('\n');
      }
    }
    return out.toString();
  }

  /**
   * base/kubelet (the root) with pods/u1/{file, volumes/v1/{vol_data.json, mount/}} and links in pods/ (see
   * {@link #LINKS}) that all lead to a directory with volumes/v1/{vol_data.json, mount/}: following one would
   * succeed, so only a refusal makes an operation through it fail. pods/u1/volumes/v3 is a component swapped for a
   * link to outside/volumes/v1, which has what v1 has.
   */
  private static Path layout(Path base) throws IOException {
    Path root = Files.createDirectories(base.resolve("kubelet"));
    Path outside = Files.createDirectories(base.resolve("outside"));
    for (Path top : List.of(root.resolve("pods/u1"), outside)) {
      Files.createDirectories(top.resolve("volumes/v1/mount"));
      Files.writeString(top.resolve("volumes/v1/vol_data.json"), top == outside ? "outside" : "inside");
    }
    Files.writeString(root.resolve("pods/u1/file"), "file");
    Path pods = root.resolve("pods");
    Files.createSymbolicLink(pods.resolve("abs-in"), root.resolve("pods/u1"));
    Files.createSymbolicLink(pods.resolve("abs-out"), outside);
    Files.createSymbolicLink(pods.resolve("rel-in"), Path.of("u1"));
    Files.createSymbolicLink(pods.resolve("rel-out"), Path.of("../../outside"));
    Files.createSymbolicLink(pods.resolve("dangling"), Path.of("nowhere"));
    Files.createSymbolicLink(pods.resolve("to-file"), root.resolve("pods/u1/file"));
    Files.createSymbolicLink(root.resolve("pods/u1/volumes/v3"), outside.resolve("volumes/v1"));
    return base;
  }

  /** Every public operation of RootDir that takes a path beneath it. */
  private enum Op {
    OPEN { Object run(RootDir r, Path p) throws IOException { return r.open(p); } },
    OPEN_DIRECTORY { Object run(RootDir r, Path p) throws IOException { return r.openDirectory(p); } },
    CREATE_DIRECTORIES { Object run(RootDir r, Path p) throws IOException { return r.createDirectories(p, 0750); } },
    CREATE_BELOW { Object run(RootDir r, Path p) throws IOException { return r.createDirectories(p.resolve("sub/deeper"), 0700); } },
    CREATE_FILE { Object run(RootDir r, Path p) throws IOException { return r.createFile(p, 0640); } },
    WRITE_FILE { Object run(RootDir r, Path p) throws IOException { r.writeFile(p, "written".getBytes()); return "written"; } },
    READ_FILE { Object run(RootDir r, Path p) throws IOException { return r.readFile(p); } },
    DELETE { Object run(RootDir r, Path p) throws IOException { return r.delete(p); } },
    KIND { Object run(RootDir r, Path p) throws IOException { return r.kind(p); } },
    SYMLINK { Object run(RootDir r, Path p) throws IOException { r.symlink(p, Path.of("/somewhere")); return "linked"; } };

    abstract Object run(RootDir r, Path p) throws IOException;
  }
}
