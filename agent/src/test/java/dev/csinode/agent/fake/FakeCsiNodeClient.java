package dev.csinode.agent.fake;

import com.google.protobuf.Message;
import dev.csinode.agent.csi.CsiNodeClient;
import dev.csinode.csi.v1.ControllerGetCapabilitiesResponse;
import dev.csinode.csi.v1.ControllerPublishVolumeRequest;
import dev.csinode.csi.v1.ControllerPublishVolumeResponse;
import dev.csinode.csi.v1.ControllerServiceCapability;
import dev.csinode.csi.v1.ControllerUnpublishVolumeRequest;
import dev.csinode.csi.v1.ControllerUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodePublishVolumeRequest;
import dev.csinode.csi.v1.NodePublishVolumeResponse;
import dev.csinode.csi.v1.NodeStageVolumeRequest;
import dev.csinode.csi.v1.NodeStageVolumeResponse;
import dev.csinode.csi.v1.NodeUnpublishVolumeRequest;
import dev.csinode.csi.v1.NodeUnpublishVolumeResponse;
import dev.csinode.csi.v1.NodeUnstageVolumeRequest;
import dev.csinode.csi.v1.NodeUnstageVolumeResponse;
import dev.csinode.grpc.GrpcCallException;
import io.vertx.core.Future;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A test double of the agent's CSI client that answers as a driver would, on the caller's context and at once: stage
 * and publish mount in a {@link FakeMounter} (publish makes its target directory, as drivers do), unpublish and
 * unstage unmount. Every call is recorded in order. {@link #failNext} makes the next call of a method fail with a
 * gRPC status, having done its work or not (a reply lost to a deadline after the mount happened). Thread-safe.
 */
public final class FakeCsiNodeClient implements CsiNodeClient {
  /** One call: the method's name, the volume id and the staging or target path (empty for other calls). */
  public record Call(String method, String volumeId, String path) {}

  private record Failure(GrpcStatus status, boolean didItsWork) {}

  private final FakeMounter mounter;
  private final List<Call> calls = new CopyOnWriteArrayList<>();
  private final Map<String, Deque<Failure>> failures = new HashMap<>();
  private volatile boolean controllerPublish;

  public FakeCsiNodeClient(FakeMounter mounter) {
    this.mounter = mounter;
  }

  /** Whether ControllerGetCapabilities offers PUBLISH_UNPUBLISH_VOLUME (off by default). */
  public void offerControllerPublish(boolean offered) {
    this.controllerPublish = offered;
  }

  /**
   * The next call of {@code method} (for example {@code NodePublishVolume}) fails with {@code status}; with
   * {@code didItsWork} it mounts or unmounts first, as a driver whose reply was lost does. Queued: calls fail in order.
   */
  public synchronized void failNext(String method, GrpcStatus status, boolean didItsWork) {
    failures.computeIfAbsent(method, m -> new ArrayDeque<>()).add(new Failure(status, didItsWork));
  }

  public List<Call> calls() {
    return List.copyOf(calls);
  }

  public List<Call> calls(String method) {
    return calls.stream().filter(c -> c.method().equals(method)).toList();
  }

  public int count(String method) {
    return calls(method).size();
  }

  @Override
  @SuppressWarnings("unchecked")
  public <Req extends Message, Resp> Future<Resp> call(String driver, String endpoint, ServiceMethod<Resp, Req> method, Req request) {
    String name = method.methodName();
    Runnable work;
    Message response;
    Call call;
    if (request instanceof NodeStageVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), r.getStagingTargetPath());
      work = () -> mounter.mount(Path.of(r.getStagingTargetPath()));
      response = NodeStageVolumeResponse.getDefaultInstance();
    } else if (request instanceof NodePublishVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), r.getTargetPath());
      work = () -> publish(Path.of(r.getTargetPath()));
      response = NodePublishVolumeResponse.getDefaultInstance();
    } else if (request instanceof NodeUnpublishVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), r.getTargetPath());
      work = () -> mounter.unmount(Path.of(r.getTargetPath()));
      response = NodeUnpublishVolumeResponse.getDefaultInstance();
    } else if (request instanceof NodeUnstageVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), r.getStagingTargetPath());
      work = () -> mounter.unmount(Path.of(r.getStagingTargetPath()));
      response = NodeUnstageVolumeResponse.getDefaultInstance();
    } else if (request instanceof ControllerPublishVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), "");
      work = () -> { };
      response = ControllerPublishVolumeResponse.getDefaultInstance();
    } else if (request instanceof ControllerUnpublishVolumeRequest r) {
      call = new Call(name, r.getVolumeId(), "");
      work = () -> { };
      response = ControllerUnpublishVolumeResponse.getDefaultInstance();
    } else {
      call = new Call(name, "", "");
      work = () -> { };
      ControllerGetCapabilitiesResponse.Builder caps = ControllerGetCapabilitiesResponse.newBuilder();
      if (controllerPublish) {
        caps.addCapabilitiesBuilder().getRpcBuilder().setType(ControllerServiceCapability.RPC.Type.PUBLISH_UNPUBLISH_VOLUME);
      }
      response = caps.build();
    }
    calls.add(call);
    Failure failure = nextFailure(name);
    if (failure == null || failure.didItsWork()) {
      work.run();
    }
    if (failure != null) {
      return Future.failedFuture(new GrpcCallException(failure.status(), "fake driver: " + name + " failed with " + failure.status()));
    }
    return Future.succeededFuture((Resp) response);
  }

  private synchronized Failure nextFailure(String method) {
    Deque<Failure> queue = failures.get(method);
    return queue == null ? null : queue.poll();
  }

  private void publish(Path target) {
    try {
      Files.createDirectories(target);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    mounter.mount(target);
  }

  @Override
  public void forget(String endpoint) {
  }

  @Override
  public void close() {
  }
}
