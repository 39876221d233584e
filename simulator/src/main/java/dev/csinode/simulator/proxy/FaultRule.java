package dev.csinode.simulator.proxy;

import java.time.Duration;

/** Stand-in (engine branch) for the proxy helper's FaultRule; the merge takes theirs. */
public record FaultRule(String name, String method, String volume, Integer nth, Double probability, Integer times,
                        String action, Duration delay, String code, String message) {
}
