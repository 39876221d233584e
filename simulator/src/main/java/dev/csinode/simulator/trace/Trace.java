package dev.csinode.simulator.trace;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The CSI calls of one scenario, in order of arrival. Appended to from the proxy's event loop and read by the
 * invariants and reports after (or during) the run; readers get an immutable copy.
 */
public final class Trace {
  private final long originNanos = System.nanoTime();
  private final AtomicLong seq = new AtomicLong();
  private final List<CsiCall> calls = new ArrayList<>();

  /** Microseconds since this trace began. */
  public long nowMicros() {
    return (System.nanoTime() - originNanos) / 1000;
  }

  public long nextSeq() {
    return seq.incrementAndGet();
  }

  /** Records a finished call (the proxy records a call once, when the node has its answer or gave up). */
  public synchronized void add(CsiCall call) {
    calls.add(call);
  }

  /** The calls recorded so far, sorted by {@link CsiCall#seq()}. */
  public synchronized List<CsiCall> calls() {
    List<CsiCall> copy = new ArrayList<>(calls);
    copy.sort((a, b) -> Long.compare(a.seq(), b.seq()));
    return List.copyOf(copy);
  }
}
