package dev.csinode.logging;

import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.encoder.EncoderBase;

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

  private Encoder<ILoggingEvent> current() {
    return switch (LogFormat.current()) {
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
    return current().encode(event);
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }
}
