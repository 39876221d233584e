package dev.csinode.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;

/**
 * The one encoder of the processes' stderr appender: writes each event in the {@link LogFormat} in force, which a
 * command may switch after logback started ({@code --log-format json}). Text and journal lines escape control
 * characters ({@link EscapedMessageConverter}); JSON escapes them by its own rules.
 */
public final class NodeLogEncoder extends EncoderBase<ILoggingEvent> {
  private static final String TEXT = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %level %logger{0} - %emsg%n%eex";
  private static final String JOURNAL = "%syslogprio%logger{0} - %emsg%n%eex";
  private Encoder<ILoggingEvent> text;
  private Encoder<ILoggingEvent> journal;
  private Encoder<ILoggingEvent> json;

  @Override
  public void start() {
    text = pattern(TEXT);
    journal = pattern(JOURNAL);
    JsonEncoder j = new JsonEncoder();
    j.setContext(getContext());
    // One self-contained object per event: the formatted message, not the template and its arguments apart.
    j.setWithFormattedMessage(true);
    j.setWithMessage(false);
    j.setWithArguments(false);
    j.setWithContext(false);
    j.setWithSequenceNumber(false);
    j.setWithNanoseconds(false);
    j.start();
    json = j;
    super.start();
  }

  private Encoder<ILoggingEvent> pattern(String pattern) {
    PatternLayoutEncoder e = new PatternLayoutEncoder();
    e.setContext(getContext());
    e.setPattern(pattern);
    e.start();
    return e;
  }

  private Encoder<ILoggingEvent> encoder(LogFormat format) {
    return switch (format) {
      case TEXT -> text;
      case JOURNAL -> journal;
      case JSON -> json;
    };
  }

  @Override
  public byte[] headerBytes() {
    return null;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    LogFormat format = LogFormat.current();
    byte[] bytes = encoder(format).encode(event);
    return format == LogFormat.JOURNAL ? prefixContinuations(bytes, event) : bytes;
  }

  /**
   * journald stores each line of a stream as an entry of its own: the lines of a stack trace after the first get the
   * event's priority prefix too, so that {@code journalctl -p err} shows an error with its trace.
   */
  private static byte[] prefixContinuations(byte[] bytes, ILoggingEvent event) {
    String text = new String(bytes, StandardCharsets.UTF_8);
    int firstBreak = text.indexOf('\n');
    if (firstBreak < 0 || firstBreak == text.length() - 1) {
      return bytes;
    }
    String prefix = SyslogPriorityConverter.prefix(event.getLevel());
    StringBuilder b = new StringBuilder(text.length() + 64).append(text, 0, firstBreak + 1);
    int start = firstBreak + 1;
    while (start < text.length()) {
      int end = text.indexOf('\n', start);
      end = end < 0 ? text.length() : end + 1;
      b.append(prefix).append(text, start, end);
      start = end;
    }
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }
}
