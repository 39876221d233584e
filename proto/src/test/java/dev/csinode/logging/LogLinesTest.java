package dev.csinode.logging;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The processes' log as configured (logback.xml): one line per event, whatever the names and messages it quotes hold. */
class LogLinesTest {
  private static final Logger LOG = LoggerFactory.getLogger("Agent");

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
}
