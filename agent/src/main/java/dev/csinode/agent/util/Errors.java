package dev.csinode.agent.util;

/** How an unforeseen exception is named in an object's error: its message, or its type when it has none. */
public final class Errors {
  private Errors() {
  }

  public static String describe(Throwable e) {
    String m = e.getMessage();
    return m == null || m.isEmpty() ? e.getClass().getSimpleName() : m;
  }
}
