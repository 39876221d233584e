package dev.csinode.logging;

import ch.qos.logback.classic.pattern.MessageConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/**
 * logback's {@code %msg} with control characters escaped: the message and its arguments as formatted, so every log
 * line of the processes is one line however the names and messages it quotes were made.
 */
public final class EscapedMessageConverter extends MessageConverter {
  @Override
  public String convert(ILoggingEvent event) {
    return ControlCharacters.escape(super.convert(event));
  }
}
