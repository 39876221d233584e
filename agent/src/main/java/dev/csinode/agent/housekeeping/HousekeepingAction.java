package dev.csinode.agent.housekeeping;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * What housekeeping does with an orphaned pod directory. Shown (API, CLI, status) in lower case, as
 * {@code remove}, {@code removed} and {@code keep}.
 */
public enum HousekeepingAction {
  /** It would be removed: what a dry run reports. */
  REMOVE,
  /** It was removed. */
  REMOVED,
  /** It stays: something is mounted below it, it holds what the agent did not create, or removing it failed. */
  KEEP;

  @JsonValue
  @Override
  public String toString() {
    return name().toLowerCase(Locale.ROOT);
  }
}
