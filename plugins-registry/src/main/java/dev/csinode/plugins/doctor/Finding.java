package dev.csinode.plugins.doctor;

/**
 * One thing the registration doctor found about a socket or the directory.
 *
 * @param nextStep for a problem: what to do about it; empty otherwise
 */
public record Finding(Level level, String text, String nextStep) {
  public enum Level { OK, INFO, PROBLEM }

  static Finding ok(String text) {
    return new Finding(Level.OK, text, "");
  }

  static Finding info(String text) {
    return new Finding(Level.INFO, text, "");
  }

  static Finding problem(String text, String nextStep) {
    return new Finding(Level.PROBLEM, text, nextStep);
  }

  public boolean isProblem() {
    return level == Level.PROBLEM;
  }
}
