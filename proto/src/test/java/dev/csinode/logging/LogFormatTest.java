package dev.csinode.logging;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ch.qos.logback.classic.Level;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("unit")
class LogFormatTest {
  @Test
  void thePropertyWinsThenTheJournalThenText() {
    assertEquals(LogFormat.JSON, LogFormat.fromEnvironment("json", Map.of("JOURNAL_STREAM", "1:2")));
    assertEquals(LogFormat.TEXT, LogFormat.fromEnvironment("text", Map.of()));
    assertEquals(LogFormat.TEXT, LogFormat.fromEnvironment(null, Map.of()));
    // A JOURNAL_STREAM that is not this process's stderr (inherited by a child whose stderr goes elsewhere): text.
    assertEquals(LogFormat.TEXT, LogFormat.fromEnvironment(null, Map.of("JOURNAL_STREAM", "0:1")));
    assertFalse(LogFormat.journalIsStderr("garbage"));
    assertFalse(LogFormat.journalIsStderr(null));
  }

  @Test
  void flagsNameTextOrJson() {
    assertEquals(LogFormat.JSON, LogFormat.parse("json"));
    assertEquals(LogFormat.TEXT, LogFormat.parse("text"));
    assertEquals("log format 'journal' is not one of text, json",
        assertThrows(IllegalArgumentException.class, () -> LogFormat.parse("journal")).getMessage());
  }

  @Test
  void levelsBecomeSyslogPriorities() {
    assertEquals(3, SyslogPriorityConverter.priority(Level.ERROR));
    assertEquals(4, SyslogPriorityConverter.priority(Level.WARN));
    assertEquals(6, SyslogPriorityConverter.priority(Level.INFO));
    assertEquals(7, SyslogPriorityConverter.priority(Level.DEBUG));
    assertEquals(7, SyslogPriorityConverter.priority(Level.TRACE));
  }
}
