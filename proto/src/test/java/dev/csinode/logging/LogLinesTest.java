package dev.csinode.logging;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import dev.csinode.testing.Await;
import io.vertx.core.Context;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The processes' log as configured (NodeLogConfigurator): one line per event, whatever the names and messages it quotes hold. */
class LogLinesTest {
  private static final Logger LOG = LoggerFactory.getLogger("Agent");
  private static final String FAKE_LINE = "1999-01-01T00:00:00.000Z INFO Agent - volume vol-2 unpublished";

  private static String logged(Runnable r) {
    PrintStream err = System.err;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setErr(new PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      r.run();
    } finally {
      System.setErr(err);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void aHandleWithANewlineCannotForgeALine() {
    String handle = "vol-1\n2026-01-01T00:00:00.000Z INFO Agent - volume vol-2 unpublished\r\u001b[2K\u0085\u2028x";
    String text = logged(() -> LOG.error("cannot publish volume {} (driver {}): {}", handle, "d\tx", "the driver said:\nno"));
    assertEquals(1, text.lines().count(), text);
    assertTrue(text.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) ERROR Agent - cannot publish volume "
        + "vol-1\\\\n2026-01-01T00:00:00\\.000Z INFO Agent - volume vol-2 unpublished\\\\r\\\\u001b\\[2K\\\\u0085\\\\u2028x "
        + "\\(driver d\\\\tx\\): the driver said:\\\\nno\\n"), text);
  }

  @Test
  void theFormatAndLevelsAreTheOnesOfBefore() {
    String text = logged(() -> {
      LOG.info("agent for node {} running", "n1");
      LOG.debug("not shown at the default level");
      LoggerFactory.getLogger("io.netty.channel.X").info("not shown: netty logs warnings only");
    });
    assertTrue(text.matches("\\S+ INFO Agent - agent for node n1 running\\n"), text);
  }

  @Test
  void escapeLeavesPlainTextAsItIs() {
    String plain = "pods/ä-b/volumes/kubernetes.io~csi/pvc-1/mount \\n";
    assertSame(plain, ControlCharacters.escape(plain));
    assertNull(ControlCharacters.escape(null));
  }

  /** Each line of a logged stack trace: the throwable's first line or a frame, a cause, a suppressed one, an elision. */
  private static void assertStackTraceLines(List<String> lines, String text) {
    for (String l : lines) {
      assertTrue(l.matches("(\\t+at |\\t+\\.\\.\\. \\d+ (common frames )?omitted|\\t*Suppressed: |Caused by: |[a-z][\\w.$]*(Exception|Error): ).*"),
          "not a line of a stack trace: '" + l + "' in\n" + text);
      assertFalse(l.startsWith("1999-"), text);
    }
  }

  @Test
  void anExceptionsMessageCannotForgeALine() {
    Exception e = new IllegalStateException("cannot publish vol-1\n" + FAKE_LINE + "\u001b[2K\u202e",
        new IOException("mount of /a\r\n" + FAKE_LINE));
    e.addSuppressed(new RuntimeException("cleanup of /b\u2028" + FAKE_LINE + "\n"));
    String text = logged(() -> LOG.error("{} failed unexpectedly", "NodePublishVolume", e));
    List<String> lines = text.lines().toList();
    assertTrue(lines.get(0).matches("\\S+ ERROR Agent - NodePublishVolume failed unexpectedly"), text);
    assertEquals("java.lang.IllegalStateException: cannot publish vol-1\\n" + FAKE_LINE + "\\u001b[2K\\u202e", lines.get(1), text);
    assertTrue(lines.get(2).startsWith("\tat dev.csinode.logging.LogLinesTest."), text); // the frames stay, one per line
    assertTrue(lines.contains("\tSuppressed: java.lang.RuntimeException: cleanup of /b\\u2028" + FAKE_LINE + "\\n"), text);
    assertTrue(lines.contains("Caused by: java.io.IOException: mount of /a\\r\\n" + FAKE_LINE), text);
    assertStackTraceLines(lines.subList(1, lines.size()), text);
    assertFalse(text.contains("\r") || text.contains("\u001b") || text.contains("\u2028") || text.contains("\u202e"), text);
  }

  /** A throwable whose toString is its own (logback prints that instead of class and message) is escaped as well. */
  @Test
  void anExceptionsOwnToStringCannotForgeALine() {
    Exception e = new RuntimeException("m") {
      @Override
      public String toString() {
        return "custom\n" + FAKE_LINE;
      }
    };
    String text = logged(() -> LOG.warn("probe failed", e));
    List<String> lines = text.lines().toList();
    assertEquals("custom\\n" + FAKE_LINE, lines.get(1), text);
    assertTrue(lines.stream().skip(2).allMatch(l -> l.startsWith("\tat ") || l.matches("\\t\\.\\.\\. \\d+ .*omitted")), text);
  }

  /** Vert.x's own log ("Unhandled exception") goes through the same layout. */
  @Test
  void vertxUnhandledExceptionsAreEscapedToo() {
    Vertx vertx = Vertx.vertx();
    try {
      String text = logged(() -> {
        Context ctx = vertx.getOrCreateContext();
        Promise<Void> after = Promise.promise();
        ctx.runOnContext(v -> {
          throw new IllegalArgumentException("volume id 'v\n" + FAKE_LINE + "'");
        });
        ctx.runOnContext(v -> after.complete()); // the context runs its tasks in order: the first one has been logged
        Await.result(after.future());
      });
      assertTrue(text.contains("java.lang.IllegalArgumentException: volume id 'v\\n" + FAKE_LINE + "'"), text);
      assertTrue(text.lines().noneMatch(l -> l.startsWith("1999-")), text);
    } finally {
      Await.result(vertx.close());
    }
  }

  @Test
  void bidiOverridesAndIsolatesAreEscaped() {
    assertEquals("evil\\u202etxt.exe \\u202a\\u202b\\u202c\\u202d \\u2066\\u2067\\u2068\\u2069 end",
        ControlCharacters.escape("evil\u202etxt.exe \u202a\u202b\u202c\u202d \u2066\u2067\u2068\u2069 end"));
    // the marks and letters around them are text, not controls
    String rtl = "\u05e9\u05dc\u05d5\u05dd \u200f\u200e";
    assertSame(rtl, ControlCharacters.escape(rtl));
    String text = logged(() -> LOG.info("volume {} published", "pvc-\u202e1-cod.sh"));
    assertTrue(text.endsWith(" INFO Agent - volume pvc-\\u202e1-cod.sh published\n"), text);
  }
}
