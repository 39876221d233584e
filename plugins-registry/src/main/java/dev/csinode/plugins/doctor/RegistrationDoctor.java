package dev.csinode.plugins.doctor;

import dev.csinode.csi.v1.GetPluginInfoRequest;
import dev.csinode.csi.v1.GetPluginInfoResponse;
import dev.csinode.csi.v1.IdentityGrpcClient;
import dev.csinode.csi.v1.NodeGetCapabilitiesRequest;
import dev.csinode.csi.v1.NodeGetCapabilitiesResponse;
import dev.csinode.csi.v1.NodeGetInfoRequest;
import dev.csinode.csi.v1.NodeGetInfoResponse;
import dev.csinode.csi.v1.NodeGrpcClient;
import dev.csinode.csi.v1.NodeServiceCapability;
import dev.csinode.grpc.GrpcCallException;
import dev.csinode.grpc.GrpcUnixClient;
import dev.csinode.grpc.SocketCheck;
import dev.csinode.grpc.SocketFiles;
import dev.csinode.grpc.UnixEndpoint;
import dev.csinode.pluginregistration.v1.InfoRequest;
import dev.csinode.pluginregistration.v1.PluginInfo;
import dev.csinode.pluginregistration.v1.RegistrationGrpcClient;
import dev.csinode.plugins.registration.PluginInfoValidation;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * A read-only doctor for a node's {@code plugins_registry}: for each registration socket, whether anything serves
 * it, what GetInfo answers and whether the kubelet would accept it, whether the endpoint it names answers as that
 * driver (GetPluginInfo, NodeGetInfo, NodeGetCapabilities), and whether two sockets claim one driver; each problem
 * with the next step to fix it.
 *
 * <p>It changes nothing: it never binds, removes or renames a file, and it never calls NotifyRegistrationStatus
 * (node-driver-registrar exits when told it is not registered, and a registrar told it is would believe a kubelet
 * took it). It only connects and asks, so it is safe against a live kubelet's directory.
 */
public final class RegistrationDoctor {
  /** The kubelet's GetInfo timeout. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);

  private final Vertx vertx;
  private final Duration timeout;

  public RegistrationDoctor(Vertx vertx, Duration timeout) {
    this.vertx = vertx;
    this.timeout = timeout;
  }

  /** Examines every socket beneath {@code dir}, as the kubelet's plugin watcher finds them, one after the other. */
  public Future<RegistrationReport> examine(Path dir) {
    return vertx.executeBlocking(() -> scan(dir), false).compose(scan -> {
      Future<List<Examined>> all = Future.succeededFuture(new ArrayList<>());
      for (Path socket : scan.sockets()) {
        all = all.compose(done -> examineSocket(socket).map(e -> {
          done.add(e);
          return done;
        }));
      }
      return all.map(examined -> new RegistrationReport(dir, scan.findings(), withDuplicates(examined)));
    });
  }

  private record Scan(List<Finding> findings, List<Path> sockets) {}

  /** What one socket answered, before the sockets are compared with each other. */
  private record Examined(Path socket, String csiName, List<Finding> findings) {}

  /** The plugin watcher's rules: the whole tree, hidden entries skipped, sockets only, links not followed. */
  private static Scan scan(Path dir) throws IOException {
    List<Finding> findings = new ArrayList<>();
    List<Path> sockets = new ArrayList<>();
    if (Files.isSymbolicLink(dir)) {
      findings.add(Finding.info(dir + " is a symbolic link to " + Files.readSymbolicLink(dir) + "; examining what it points to"));
    }
    if (!Files.exists(dir)) {
      findings.add(Finding.problem(dir + " does not exist",
          "check --root-dir (the kubelet's default is /var/lib/kubelet); the directory appears when a kubelet or agent first runs with that root"));
      return new Scan(findings, sockets);
    }
    if (!Files.isDirectory(dir)) {
      findings.add(Finding.problem(dir + " is not a directory", "a kubelet or agent cannot watch it; move the file away"));
      return new Scan(findings, sockets);
    }
    Path start = dir.toRealPath();
    Files.walkFileTree(start, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
        if (!d.equals(start) && hidden(d)) {
          findings.add(Finding.info("ignored (hidden, the kubelet skips it): " + shown(dir, start, d) + "/"));
          return FileVisitResult.SKIP_SUBTREE;
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
        Path as = dir.resolve(start.relativize(f));
        if (hidden(f)) {
          findings.add(Finding.info("ignored (hidden, the kubelet skips it): " + as));
        } else if (attrs.isSymbolicLink()) {
          findings.add(Finding.info("ignored (a symbolic link; the kubelet registers sockets only): " + as));
        } else if (attrs.isOther() && SocketFiles.isSocket(f)) {
          sockets.add(as);
        } else {
          findings.add(Finding.info("ignored (not a socket): " + as));
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path f, IOException e) {
        findings.add(Finding.info("cannot read " + dir.resolve(start.relativize(f)) + ": " + e.getMessage()));
        return FileVisitResult.CONTINUE;
      }
    });
    if (sockets.isEmpty()) {
      findings.add(Finding.info("no registration sockets: no plugin is registered through this directory now"));
    }
    sockets.sort(null);
    return new Scan(findings, sockets);
  }

  private static String shown(Path dir, Path start, Path p) {
    return dir.resolve(start.relativize(p)).toString();
  }

  private static boolean hidden(Path p) {
    return p.getFileName() != null && p.getFileName().toString().startsWith(".");
  }

  private Future<Examined> examineSocket(Path socket) {
    List<Finding> findings = new ArrayList<>();
    return vertx.executeBlocking(() -> SocketFiles.check(socket), false).compose(check -> {
      if (check.liveness() == SocketCheck.Liveness.CHANGING) {
        findings.add(Finding.problem("replaced while it was checked: a process (its registrar restarting?) is putting a new socket there",
            "run the doctor again in a moment; if this persists, two processes fight over this path: find them with "
                + "ss -xlp | grep '" + socket + "'"));
        return Future.succeededFuture(new Examined(socket, null, findings));
      }
      if (!check.served()) {
        findings.add(Finding.problem("stale: nothing listens on it (its registrar exited or was killed, or the node rebooted)",
            "if the driver is deployed, restart its registrar: node-driver-registrar removes and re-creates its socket at start; "
                + "if it is not, remove this file: neither the kubelet nor the agent ever does (node-driver-registrar#206)"));
        return Future.succeededFuture(new Examined(socket, null, findings));
      }
      GrpcUnixClient client = new GrpcUnixClient(vertx, new UnixEndpoint(socket));
      return client.call(RegistrationGrpcClient.GetInfo, InfoRequest.getDefaultInstance(), timeout)
          .transform(ar -> {
            client.close();
            if (ar.failed()) {
              findings.add(Finding.problem("something listens, but GetInfo failed: " + describe(ar.cause()),
                  "the process behind it must serve pluginregistration.Registration (v1) and answer within "
                      + timeout.toMillis() + " ms, as the kubelet expects; find it with: ss -xlp | grep '" + socket + "'"));
              return Future.succeededFuture(new Examined(socket, null, findings));
            }
            return examineInfo(socket, ar.result(), findings);
          });
    });
  }

  private Future<Examined> examineInfo(Path socket, PluginInfo info, List<Finding> findings) {
    findings.add(Finding.ok("served; GetInfo: type " + quoted(info.getType()) + ", name " + quoted(info.getName())
        + ", endpoint " + (info.getEndpoint().isEmpty() ? "(empty: this socket)" : quoted(info.getEndpoint()))
        + ", supported versions " + info.getSupportedVersionsList()));
    if (!PluginInfoValidation.CSI_PLUGIN.equals(info.getType())) {
      findings.add(Finding.info("not a CSI plugin (type " + quoted(info.getType()) + "): the kubelet hands it to another "
          + "handler (device plugins, DRA); not checked further"));
      return Future.succeededFuture(new Examined(socket, null, findings));
    }
    var problem = PluginInfoValidation.problem(info);
    if (problem.isPresent()) {
      findings.add(Finding.problem("the kubelet would refuse it: " + problem.get(),
          "fix the registrar's configuration: node-driver-registrar takes the name from the driver's GetPluginInfo and "
              + "announces supported_versions [1.0.0]"));
      return Future.succeededFuture(new Examined(socket, null, findings));
    }
    String endpointText = info.getEndpoint().isEmpty() ? socket.toString() : info.getEndpoint();
    UnixEndpoint endpoint;
    try {
      endpoint = UnixEndpoint.parse(endpointText);
    } catch (IllegalArgumentException e) {
      findings.add(Finding.problem("endpoint " + quoted(endpointText) + " is not usable: " + e.getMessage(),
          "announce the driver socket's absolute path on this host (node-driver-registrar: --kubelet-registration-path)"));
      return Future.succeededFuture(new Examined(socket, info.getName(), findings));
    }
    String name = info.getName();
    return vertx.executeBlocking(() -> SocketFiles.check(endpoint.path()), false)
        .compose(check -> {
          if (check.liveness() == SocketCheck.Liveness.CHANGING) {
            findings.add(Finding.problem("endpoint " + endpoint.path() + " was replaced while it was checked: the driver is (re)starting",
                "run the doctor again once the driver is up; if this persists, two processes fight over this path"));
            return Future.succeededFuture(new Examined(socket, name, findings));
          }
          if (check.file() == null || !check.file().socket()) {
            findings.add(Finding.problem("endpoint " + endpoint.path() + " is not a socket on this host",
                "node-driver-registrar's --kubelet-registration-path must be the driver socket's path as the host sees it "
                    + "(not the path inside the driver's container), under this node's kubelet root"));
            return Future.succeededFuture(new Examined(socket, name, findings));
          }
          if (!check.served()) {
            findings.add(Finding.problem("nothing listens on endpoint " + endpoint.path() + ": the driver is not running",
                "start the driver (check its container or service and its log); the registration itself looks right"));
            return Future.succeededFuture(new Examined(socket, name, findings));
          }
          return examineDriver(socket, name, endpoint, findings);
        });
  }

  /** The calls the kubelet makes of a driver it registers: GetPluginInfo (as node-driver-registrar did), NodeGetInfo, NodeGetCapabilities. */
  private Future<Examined> examineDriver(Path socket, String name, UnixEndpoint endpoint, List<Finding> findings) {
    GrpcUnixClient csi = new GrpcUnixClient(vertx, endpoint);
    return csi.call(IdentityGrpcClient.GetPluginInfo, GetPluginInfoRequest.getDefaultInstance(), timeout)
        .transform(ar -> {
          if (ar.failed()) {
            findings.add(Finding.problem("endpoint " + endpoint.path() + ": GetPluginInfo failed: " + describe(ar.cause()),
                "the socket must serve the CSI Identity service; check that the endpoint is the driver's, not another program's"));
          } else {
            GetPluginInfoResponse r = ar.result();
            if (r.getName().equals(name)) {
              findings.add(Finding.ok("endpoint " + endpoint.path() + " answers GetPluginInfo as " + quoted(name)
                  + (r.getVendorVersion().isEmpty() ? "" : " (vendor version " + quoted(r.getVendorVersion()) + ")")));
            } else {
              findings.add(Finding.problem("the driver at " + endpoint.path() + " calls itself " + quoted(r.getName())
                      + " but registers as " + quoted(name) + ": pods asking for either name would reach the wrong driver or none",
                  "make the registered name the driver's own: node-driver-registrar takes it from GetPluginInfo; a hand-made "
                      + "registrar must announce the same name"));
            }
          }
          return csi.call(NodeGrpcClient.NodeGetInfo, NodeGetInfoRequest.getDefaultInstance(), timeout);
        })
        .transform(ar -> {
          if (ar.failed()) {
            findings.add(Finding.problem("NodeGetInfo failed: " + describe(ar.cause()) + "; the kubelet calls it to register "
                + "the driver, so the registration fails", "the driver's node service must answer NodeGetInfo (with its node id)"));
          } else {
            NodeGetInfoResponse r = ar.result();
            if (r.getNodeId().isEmpty()) {
              findings.add(Finding.problem("NodeGetInfo answers an empty node_id: the kubelet refuses the driver",
                  "configure the driver's node id (often --nodeid from the node's name)"));
            } else {
              findings.add(Finding.ok("NodeGetInfo: node id " + quoted(r.getNodeId()) + ", max volumes per node "
                  + (r.getMaxVolumesPerNode() == 0 ? "0 (no limit)" : r.getMaxVolumesPerNode())
                  + ", topology " + new TreeMap<>(r.getAccessibleTopology().getSegmentsMap())));
            }
          }
          return csi.call(NodeGrpcClient.NodeGetCapabilities, NodeGetCapabilitiesRequest.getDefaultInstance(), timeout);
        })
        .transform(ar -> {
          csi.close();
          if (ar.failed()) {
            findings.add(Finding.problem("NodeGetCapabilities failed: " + describe(ar.cause()),
                "the driver's node service must answer NodeGetCapabilities; the kubelet asks before every stage"));
          } else {
            findings.add(Finding.ok("NodeGetCapabilities: " + capabilities(ar.result())));
          }
          return Future.succeededFuture(new Examined(socket, name, findings));
        });
  }

  /** Two sockets for one driver name: each gets a problem naming the other(s). */
  private static List<SocketReport> withDuplicates(List<Examined> examined) {
    Map<String, List<Path>> byName = new LinkedHashMap<>();
    for (Examined e : examined) {
      if (e.csiName() != null) {
        byName.computeIfAbsent(e.csiName(), n -> new ArrayList<>()).add(e.socket());
      }
    }
    List<SocketReport> reports = new ArrayList<>();
    for (Examined e : examined) {
      List<Finding> findings = new ArrayList<>(e.findings());
      List<Path> claimants = e.csiName() == null ? List.of() : byName.get(e.csiName());
      if (claimants.size() > 1) {
        String others = claimants.stream().filter(p -> !p.equals(e.socket())).map(Path::toString).collect(Collectors.joining(", "));
        findings.add(Finding.problem("driver " + quoted(e.csiName()) + " is also registered through " + others
                + ": the kubelet keeps the first it registered and refuses the other unless it announces a strictly higher "
                + "version; which one holds the name then depends on the order they appeared",
            "run one registrar per driver: stop the one you do not want and remove its socket"));
      }
      reports.add(new SocketReport(e.socket(), e.csiName(), findings));
    }
    return reports;
  }

  private static String capabilities(NodeGetCapabilitiesResponse r) {
    List<String> names = new ArrayList<>();
    for (NodeServiceCapability c : r.getCapabilitiesList()) {
      names.add(c.hasRpc() ? c.getRpc().getType().name() : "(unknown capability)");
    }
    return names.isEmpty() ? "none" : String.join(", ", names);
  }

  private static String describe(Throwable err) {
    if (err instanceof GrpcCallException g) {
      return g.status() + (g.statusMessage() == null || g.statusMessage().isEmpty() ? "" : " " + quoted(g.statusMessage()));
    }
    return err.getMessage() == null ? err.getClass().getSimpleName() : err.getMessage();
  }

  private static String quoted(String s) {
    return "'" + s + "'";
  }
}
