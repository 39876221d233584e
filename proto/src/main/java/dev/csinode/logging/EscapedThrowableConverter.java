package dev.csinode.logging;

import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;

/**
 * logback's {@code %ex} with control characters escaped in what a throwable says about itself (its message, or its
 * own {@code toString}), for the throwable, its causes and its suppressed ones. The stack frames stay one per line.
 * An exception message often quotes a volume id, a path or a driver's answer; without this, logging the exception
 * printed those as they came and could forge log lines.
 */
public final class EscapedThrowableConverter extends ThrowableProxyConverter {
  @Override
  protected String throwableProxyToString(IThrowableProxy tp) {
    return super.throwableProxyToString(new Escaped(tp));
  }

  /** The proxy as logback prints it, with the texts from outside escaped; causes and suppressed ones wrapped on demand. */
  private record Escaped(IThrowableProxy proxy) implements IThrowableProxy {
    @Override
    public String getMessage() {
      return ControlCharacters.escape(proxy.getMessage());
    }

    @Override
    public String getOverridingMessage() {
      return ControlCharacters.escape(proxy.getOverridingMessage());
    }

    @Override
    public String getClassName() {
      return ControlCharacters.escape(proxy.getClassName());
    }

    @Override
    public StackTraceElementProxy[] getStackTraceElementProxyArray() {
      return proxy.getStackTraceElementProxyArray();
    }

    @Override
    public int getCommonFrames() {
      return proxy.getCommonFrames();
    }

    @Override
    public IThrowableProxy getCause() {
      IThrowableProxy cause = proxy.getCause();
      return cause == null ? null : new Escaped(cause);
    }

    @Override
    public IThrowableProxy[] getSuppressed() {
      IThrowableProxy[] suppressed = proxy.getSuppressed();
      if (suppressed == null) {
        return null;
      }
      IThrowableProxy[] escaped = new IThrowableProxy[suppressed.length];
      for (int i = 0; i < suppressed.length; i++) {
        escaped[i] = new Escaped(suppressed[i]);
      }
      return escaped;
    }

    @Override
    public boolean isCyclic() {
      return proxy.isCyclic();
    }
  }
}
