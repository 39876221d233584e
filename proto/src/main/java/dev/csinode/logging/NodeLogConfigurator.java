package dev.csinode.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.pattern.DynamicConverter;
import ch.qos.logback.core.spi.ContextAwareBase;
import ch.qos.logback.core.status.NopStatusListener;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * The processes' log, set up in code (found by logback as a service): one line per event on stderr through
 * {@link NodeLogEncoder}, INFO by default, Netty and Vert.x at WARN, {@code -Dcsi.log.level=warn|debug|...} for the
 * rest. In code rather than a logback.xml because reading XML cost every process ~360 classes (an XML parser and
 * logback's configuration model) and tens of milliseconds at start. {@code -Dlogback.configurationFile=F} still
 * hands the set-up to logback's own reading of F.
 *
 * <p>{@code %emsg} ({@link EscapedMessageConverter}) is the message with control characters escaped, {@code %eex}
 * ({@link EscapedThrowableConverter}) a logged throwable's stack trace with its messages escaped: log lines cannot be
 * forged. {@code %eex} must stay in the patterns: without a throwable converter logback appends its own, which prints
 * messages as they are.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_HIGH_PRIORITY)
public final class NodeLogConfigurator extends ContextAwareBase implements Configurator {
  /** The system property that sets the root level (and so that of the project's own loggers). */
  public static final String LEVEL_PROPERTY = "csi.log.level";

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    context.getStatusManager().add(new NopStatusListener());
    converters(context).putAll(Map.of(
        "emsg", EscapedMessageConverter::new,
        "eex", EscapedThrowableConverter::new,
        "syslogprio", SyslogPriorityConverter::new));

    NodeLogEncoder encoder = new NodeLogEncoder();
    encoder.setContext(context);
    encoder.start();
    ConsoleAppender<ILoggingEvent> stderr = new ConsoleAppender<>();
    stderr.setContext(context);
    stderr.setName("STDERR");
    stderr.setTarget("System.err");
    stderr.setEncoder(encoder);
    stderr.start();

    context.getLogger("io.netty").setLevel(Level.WARN);
    context.getLogger("io.vertx").setLevel(Level.WARN);
    ch.qos.logback.classic.Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(System.getProperty(LEVEL_PROPERTY), Level.INFO));
    root.addAppender(stderr);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Supplier<DynamicConverter<?>>> converters(LoggerContext context) {
    Object registry = context.getObject(CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS);
    if (registry == null) {
      registry = new HashMap<String, Supplier<DynamicConverter<?>>>();
      context.putObject(CoreConstants.PATTERN_RULE_REGISTRY_FOR_SUPPLIERS, registry);
    }
    return (Map<String, Supplier<DynamicConverter<?>>>) registry;
  }
}
