package dev.csinode.simulator;

import com.sun.tools.attach.VirtualMachine;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * The heap bytes a driver process (a JVM of this user) has allocated so far, all its threads together
 * ({@code com.sun.management.ThreadMXBean#getTotalThreadAllocatedBytes}), read over the JVM's local management agent,
 * which the attach API starts in it on first use. A steadier figure than CPU time on a shared machine: it does not
 * depend on what else runs. Each reading allocates a few KiB in the driver itself (the RMI call).
 */
final class DriverAllocation implements AutoCloseable {
  private final JMXConnector connector;
  private final com.sun.management.ThreadMXBean threads;

  private DriverAllocation(JMXConnector connector, com.sun.management.ThreadMXBean threads) {
    this.connector = connector;
    this.threads = threads;
  }

  /** Connects to the JVM with this process id; fails when it cannot be attached to (another user, not a JVM). */
  static DriverAllocation attach(long pid) throws IOException {
    String address;
    try {
      VirtualMachine vm = VirtualMachine.attach(Long.toString(pid));
      try {
        address = vm.startLocalManagementAgent();
      } finally {
        vm.detach();
      }
    } catch (com.sun.tools.attach.AttachNotSupportedException e) {
      throw new IOException("cannot attach to process " + pid + ": " + e.getMessage(), e);
    }
    JMXConnector connector = JMXConnectorFactory.connect(new JMXServiceURL(address));
    try {
      var threads = ManagementFactory.newPlatformMXBeanProxy(connector.getMBeanServerConnection(),
          ManagementFactory.THREAD_MXBEAN_NAME, com.sun.management.ThreadMXBean.class);
      threads.getTotalThreadAllocatedBytes(); // fails here, not in the middle of a run, when not supported
      return new DriverAllocation(connector, threads);
    } catch (IOException | RuntimeException e) {
      connector.close();
      throw e;
    }
  }

  /** Bytes allocated on the heap by the process since it started (its ended threads included), or -1 when unknown. */
  long allocatedBytes() {
    try {
      return threads.getTotalThreadAllocatedBytes();
    } catch (RuntimeException e) {
      return -1;
    }
  }

  @Override
  public void close() throws IOException {
    connector.close();
  }
}
