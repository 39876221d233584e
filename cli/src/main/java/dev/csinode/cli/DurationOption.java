package dev.csinode.cli;

import dev.csinode.util.GoDuration;
import java.time.Duration;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/**
 * The converter of every duration option (Go notation: 500ms, 30s, 1h30m), so that a value it cannot read is a usage
 * error when the command line is parsed, before the command does anything: picocli's "Invalid value for option
 * '--x': ..." (status 2), which names the option, with the value quoted (and escaped, by Main's handler). Also for
 * the defaults picocli converts: the annotations' and {@code run}'s config file's (checked by ConfigFile before).
 */
public final class DurationOption implements ITypeConverter<Duration> {
  @Override
  public Duration convert(String value) {
    try {
      return GoDuration.parse(value);
    } catch (IllegalArgumentException e) {
      throw new TypeConversionException(e.getMessage());
    }
  }
}
