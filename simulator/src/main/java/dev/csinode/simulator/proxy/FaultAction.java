package dev.csinode.simulator.proxy;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.stream.Collectors;

/** What a fault rule does to a call it applies to. */
public enum FaultAction {
  /** Wait the rule's delay, then forward. */
  DELAY("delay"),
  /** Answer with the rule's code and message; the driver never sees the call. */
  FAIL("fail"),
  /** Neither answer nor forward, until the caller's deadline or cancel. */
  HANG("hang"),
  /** Close the caller's connection: it sees UNAVAILABLE (or a reset), with no answer. */
  DROP("drop"),
  /** Forward, let the driver finish, then answer DEADLINE_EXCEEDED: the caller cannot know what happened. */
  LOSE_ANSWER("lose-answer");

  private final String text;

  FaultAction(String text) {
    this.text = text;
  }

  @JsonValue
  public String text() {
    return text;
  }

  @JsonCreator
  public static FaultAction parse(String text) {
    for (FaultAction a : values()) {
      if (a.text.equals(text)) {
        return a;
      }
    }
    throw new IllegalArgumentException("action: '" + text + "' is not one of " + names());
  }

  static String names() {
    return Arrays.stream(values()).map(FaultAction::text).collect(Collectors.joining(", "));
  }

  @Override
  public String toString() {
    return text;
  }
}
