package dev.csinode.simulator.checkdriver;

import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What a driver says it is and offers, as its Identity, Controller and Node services answer: the facts
 * {@code check-driver} selects the scenarios by. Capability names as the CSI protos spell them.
 *
 * @param name              GetPluginInfo's name
 * @param vendorVersion     GetPluginInfo's vendor_version ("" when it gives none)
 * @param plugin            GetPluginCapabilities' Service types, e.g. CONTROLLER_SERVICE
 * @param controller        ControllerGetCapabilities' RPC types, e.g. CREATE_DELETE_VOLUME; empty when the
 *                          Controller service does not answer
 * @param node              NodeGetCapabilities' RPC types, e.g. STAGE_UNSTAGE_VOLUME
 * @param maxVolumesPerNode NodeGetInfo's max_volumes_per_node (0: no limit)
 * @param controllerService whether ControllerGetCapabilities answered at all (UNIMPLEMENTED: no Controller service)
 */
public record DriverCapabilities(String name, String vendorVersion, Set<String> plugin, Set<String> controller,
                                 Set<String> node, long maxVolumesPerNode, boolean controllerService) {
  public DriverCapabilities {
    vendorVersion = vendorVersion == null ? "" : vendorVersion;
    // Sorted: the header of check-driver's output must not depend on the order a driver lists them in.
    plugin = Collections.unmodifiableSet(new TreeSet<>(plugin));
    controller = Collections.unmodifiableSet(new TreeSet<>(controller));
    node = Collections.unmodifiableSet(new TreeSet<>(node));
  }

  /** The header lines check-driver prints above its matrix (control characters not yet escaped). */
  List<String> describe() {
    return List.of(
        "driver: " + name + (vendorVersion.isEmpty() ? "" : " " + vendorVersion),
        "plugin capabilities: " + listed(plugin),
        "controller capabilities: " + (controllerService ? listed(controller) : "no Controller service (UNIMPLEMENTED)"),
        "node capabilities: " + listed(node),
        "max volumes per node: " + (maxVolumesPerNode == 0 ? "0 (no limit)" : Long.toString(maxVolumesPerNode)));
  }

  private static String listed(Set<String> names) {
    return names.isEmpty() ? "none" : String.join(", ", names);
  }
}
